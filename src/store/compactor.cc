#include "store/compactor.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace ariadne::store {

using model::AnyValue;
using model::KeyValue;
using model::Range;
using model::SpanBatch;
using model::SpanId;
using model::SpanKind;
using model::SpanRef;
using model::TraceId;
using model::ValueType;

namespace {

// Deep copies (strings into dst's arena), so that the output row group does
// not keep the inputs' row groups alive.
Range CopyAttrs(const SpanBatch& src, Range r, SpanBatch* dst);
AnyValue CopyValue(const SpanBatch& src, const AnyValue& v, SpanBatch* dst) {
  switch (v.type) {
    case ValueType::kString:
      return AnyValue::String(dst->Copy(v.bytes));
    case ValueType::kBytes:
      return AnyValue::Bytes(dst->Copy(v.bytes));
    case ValueType::kArray: {
      const uint32_t first = static_cast<uint32_t>(dst->array_items.size());
      dst->array_items.resize(first + v.children.count);
      for (uint32_t i = 0; i < v.children.count; ++i) {
        AnyValue item = CopyValue(src, src.array_items[v.children.first + i], dst);
        dst->array_items[first + i] = item;
      }
      return AnyValue::Array({first, v.children.count});
    }
    case ValueType::kKvList:
      return AnyValue::KvList(CopyAttrs(src, v.children, dst));
    default:
      return v;
  }
}
Range CopyAttrs(const SpanBatch& src, Range r, SpanBatch* dst) {
  const uint32_t first = static_cast<uint32_t>(dst->attributes.size());
  dst->attributes.resize(first + r.count);
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = src.attributes[r.first + i];
    AnyValue v = CopyValue(src, kv.value, dst);
    dst->attributes[first + i] = {dst->Copy(kv.key), v};
  }
  return {first, r.count};
}

void CopySpan(const SpanBatch& src, uint32_t row, uint32_t scope, SpanBatch* dst) {
  const uint32_t r = dst->AddSpan();
  dst->trace_id[r] = src.trace_id[row];
  dst->span_id[r] = src.span_id[row];
  dst->parent_span_id[r] = src.parent_span_id[row];
  dst->trace_state[r] = dst->Copy(src.trace_state[row]);
  dst->flags[r] = src.flags[row];
  dst->name[r] = dst->Copy(src.name[row]);
  dst->kind[r] = src.kind[row];
  dst->start_unix_nano[r] = src.start_unix_nano[row];
  dst->end_unix_nano[r] = src.end_unix_nano[row];
  dst->span_attributes[r] = CopyAttrs(src, src.span_attributes[row], dst);
  dst->dropped_attributes_count[r] = src.dropped_attributes_count[row];
  {
    const Range events = src.span_events[row];
    const uint32_t first = static_cast<uint32_t>(dst->events.size());
    for (uint32_t e = 0; e < events.count; ++e) {
      model::Event ev = src.events[events.first + e];
      ev.name = dst->Copy(ev.name);
      ev.attributes = CopyAttrs(src, ev.attributes, dst);
      dst->events.push_back(ev);
    }
    dst->span_events[r] = {first, events.count};
  }
  dst->dropped_events_count[r] = src.dropped_events_count[row];
  {
    const Range links = src.span_links[row];
    const uint32_t first = static_cast<uint32_t>(dst->links.size());
    for (uint32_t l = 0; l < links.count; ++l) {
      model::Link ln = src.links[links.first + l];
      ln.trace_state = dst->Copy(ln.trace_state);
      ln.attributes = CopyAttrs(src, ln.attributes, dst);
      dst->links.push_back(ln);
    }
    dst->span_links[r] = {first, links.count};
  }
  dst->dropped_links_count[r] = src.dropped_links_count[row];
  dst->status_code[r] = src.status_code[row];
  dst->status_message[r] = dst->Copy(src.status_message[row]);
  dst->scope[r] = scope;
}

// One input: its current row group and the next row to take.
struct Cursor {
  std::shared_ptr<Block> block;
  uint32_t next_group = 0;
  uint32_t loads = 0;  // row groups loaded so far (names the current one)
  std::shared_ptr<const SpanBatch> batch;  // null once the block is done
  uint32_t row = 0;
};

}  // namespace

absl::StatusOr<BlockMeta> Compact(const std::vector<std::shared_ptr<Block>>& inputs,
                                  const std::string& blocks_dir, const BlockWriterOptions& options,
                                  CompactionStats* stats_out, const std::function<bool()>& cancelled) {
  CompactionStats local_stats;
  CompactionStats& st = stats_out != nullptr ? *stats_out : local_stats;
  st = CompactionStats{};
  if (inputs.empty()) return absl::InvalidArgumentError("Compact: no inputs");
  BlockMeta meta;
  for (const auto& b : inputs) {
    meta.level = std::max(meta.level, b->meta().level + 1);
    meta.wal_seq_max = std::max(meta.wal_seq_max, b->meta().wal_seq_max);
    meta.compacted_from.push_back(b->meta().id);
  }

  // Every decoded batch, to measure what is alive (the memory bound).
  std::vector<std::weak_ptr<const SpanBatch>> live;
  auto measure = [&] {
    uint64_t spans = 0;
    std::erase_if(live, [](const auto& w) { return w.expired(); });
    for (const auto& w : live) {
      if (auto b = w.lock()) spans += b->size();
    }
    st.max_live_spans = std::max(st.max_live_spans, spans);
  };

  std::vector<Cursor> cursors(inputs.size());
  auto load = [&](Cursor& c) -> absl::Status {
    c.batch.reset();
    c.row = 0;
    while (c.next_group < c.block->meta().row_groups) {
      absl::StatusOr<std::shared_ptr<const SpanBatch>> b = c.block->ReadRowGroup(c.next_group++);
      if (!b.ok()) {
        if (absl::IsDataLoss(b.status())) st.damaged_input = c.block;
        return absl::Status(b.status().code(), absl::StrCat("block ", c.block->meta().id, ": ",
                                                            b.status().message()));
      }
      st.input_spans += (*b)->size();
      if ((*b)->empty()) continue;
      c.batch = *std::move(b);
      ++c.loads;
      live.push_back(c.batch);
      return absl::OkStatus();
    }
    return absl::OkStatus();
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    cursors[i].block = inputs[i];
    if (absl::Status s = load(cursors[i]); !s.ok()) return s;
  }

  absl::StatusOr<std::unique_ptr<BlockWriter>> writer_or =
      BlockWriter::Create(blocks_dir, meta, options);
  if (!writer_or.ok()) return writer_or.status();
  BlockWriter& writer = **writer_or;

  // The spans of the output row group being built, copied from the inputs;
  // a new batch once the writer has written the previous row group.
  std::shared_ptr<SpanBatch> out;
  // (input, row group load, scope or resource of it) -> out's scope/resource.
  absl::flat_hash_map<std::tuple<size_t, uint32_t, uint32_t>, uint32_t> scope_map, resource_map;
  auto out_scope = [&](size_t input, const Cursor& c, uint32_t scope) {
    auto [it, fresh] = scope_map.try_emplace({input, c.loads, scope}, 0);
    if (!fresh) return it->second;
    const SpanBatch& src = *c.batch;
    const model::Scope& s = src.scopes[scope];
    auto [rit, rfresh] = resource_map.try_emplace({input, c.loads, s.resource}, 0);
    if (rfresh) {
      const model::Resource& r = src.resources[s.resource];
      model::Resource copy;
      copy.attributes = CopyAttrs(src, r.attributes, out.get());
      copy.dropped_attributes_count = r.dropped_attributes_count;
      copy.schema_url = out->Copy(r.schema_url);
      copy.service_name = out->Copy(r.service_name);
      rit->second = static_cast<uint32_t>(out->resources.size());
      out->resources.push_back(copy);
    }
    model::Scope copy;
    copy.name = out->Copy(s.name);
    copy.version = out->Copy(s.version);
    copy.attributes = CopyAttrs(src, s.attributes, out.get());
    copy.dropped_attributes_count = s.dropped_attributes_count;
    copy.schema_url = out->Copy(s.schema_url);
    copy.resource = rit->second;
    it->second = static_cast<uint32_t>(out->scopes.size());
    out->scopes.push_back(copy);
    return it->second;
  };

  absl::flat_hash_set<std::pair<SpanId, SpanKind>> seen;
  std::vector<SpanRef> refs;
  for (;;) {
    if (cancelled && cancelled()) return absl::CancelledError("compaction cancelled");
    // The smallest trace id among the inputs' next traces.
    const TraceId* next = nullptr;
    for (const Cursor& c : cursors) {
      if (c.batch && (next == nullptr || c.batch->trace_id[c.row] < *next)) {
        next = &c.batch->trace_id[c.row];
      }
    }
    if (next == nullptr) break;
    const TraceId trace = *next;
    if (!out) {
      out = std::make_shared<SpanBatch>();
      scope_map.clear();
      resource_map.clear();
      live.push_back(out);
    }
    const uint32_t first = static_cast<uint32_t>(out->size());
    seen.clear();
    for (size_t i = 0; i < cursors.size(); ++i) {
      Cursor& c = cursors[i];
      if (!c.batch || c.batch->trace_id[c.row] != trace) continue;
      // A trace never spans two row groups of a block: its rows end here.
      const SpanBatch& src = *c.batch;
      for (; c.row < src.size() && src.trace_id[c.row] == trace; ++c.row) {
        if (!seen.insert({src.span_id[c.row], src.kind[c.row]}).second) {
          ++st.duplicates;
          continue;
        }
        CopySpan(src, c.row, out_scope(i, c, src.scope[c.row]), out.get());
      }
      if (c.row == src.size()) {
        if (absl::Status s = load(c); !s.ok()) return s;
      }
    }
    measure();
    refs.clear();
    for (uint32_t r = first; r < out->size(); ++r) refs.push_back({out, r});
    if (absl::Status s = writer.AddTrace(refs); !s.ok()) return s;
    st.output_spans += refs.size();
    refs.clear();
    if (writer.buffered_spans() == 0) out.reset();  // written: the next row group starts
  }
  out.reset();
  absl::StatusOr<BlockMeta> written = writer.Finish();
  st.max_buffered_spans = writer.max_buffered_spans();
  return written;
}

std::vector<std::vector<std::shared_ptr<Block>>> PlanCompactions(
    const std::vector<std::shared_ptr<Block>>& blocks, const CompactionOptions& options) {
  std::vector<std::vector<std::shared_ptr<Block>>> groups;
  if (options.max_inputs < 2) return groups;
  std::map<uint32_t, std::vector<std::shared_ptr<Block>>> by_level;
  for (const auto& b : blocks) by_level[b->meta().level].push_back(b);
  const uint64_t max_span = static_cast<uint64_t>(std::max<int64_t>(0, options.max_block_span.count()));
  for (auto& [level, list] : by_level) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      if (a->meta().min_start_nano != b->meta().min_start_nano) {
        return a->meta().min_start_nano < b->meta().min_start_nano;
      }
      return a->meta().id < b->meta().id;
    });
    size_t i = 0;
    while (i < list.size()) {
      uint64_t bytes = list[i]->meta().bytes;
      uint64_t lo = list[i]->meta().min_start_nano;
      uint64_t hi = list[i]->meta().max_start_nano;
      size_t j = i + 1;
      bool closed = false;
      for (; j < list.size(); ++j) {
        if (j - i >= options.max_inputs) {
          closed = true;
          break;
        }
        const BlockMeta& m = list[j]->meta();
        const uint64_t nlo = std::min(lo, m.min_start_nano);
        const uint64_t nhi = std::max(hi, m.max_start_nano);
        if (bytes + m.bytes > options.target_block_bytes || nhi - nlo > max_span) {
          closed = true;
          break;
        }
        bytes += m.bytes;
        lo = nlo;
        hi = nhi;
      }
      if (j - i >= options.max_inputs) closed = true;
      if (j - i >= 2 && closed) {
        groups.emplace_back(list.begin() + static_cast<std::ptrdiff_t>(i),
                            list.begin() + static_cast<std::ptrdiff_t>(j));
        i = j;
      } else if (j - i >= 2) {
        break;  // the newest run is still growing
      } else {
        ++i;  // this block fits with none of its neighbours
      }
    }
  }
  return groups;
}

}  // namespace ariadne::store
