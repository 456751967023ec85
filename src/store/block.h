// Blocks: immutable, compressed, columnar files of spans on disk.
//
// The head is cut into blocks (see docs/storage.md); each block is a
// directory under <data-dir>/blocks/ holding
//   data.blk    the spans: a strings dictionary, resource and scope tables,
//               and row groups of ~8192 spans (sorted by trace id, then
//               start), each column a zstd-compressed chunk with a CRC-32C;
//   index.blk   a bloom filter and a paged, sorted trace-id table (trace id
//               -> row group), per-row-group statistics (time range, the
//               service and operation ids present), postings for
//               low-cardinality attribute values (key=value -> row groups)
//               and a bloom filter per row group of its attribute key=value
//               pairs (format version 2);
//   meta.json   written last: a block is visible once it exists.
// A block is written to blocks/tmp-<random>/, fsynced, and published by
// renaming the directory to blocks/<id> (then the parent directory is
// fsynced). The byte layouts are in docs/format/block.md.
//
// BlockWriter streams: it holds one row group of spans at a time (plus the
// block-wide dictionary, resource and scope tables, which grow with distinct
// values, and the per-row-group index material), so a block of any size is
// written in bounded memory; WriteBlock and compaction (store/compactor.h)
// both go through it.
//
// Threading: WriteBlock is a pure function of its inputs (one thread); a
// BlockWriter is used from one thread; a Block is immutable and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::store {

struct BlockMeta {
  std::string id;                 // "<16 hex: min start ms><16 hex: random>", the directory name
  uint32_t format_version = 1;
  uint64_t min_start_nano = 0;    // over the block's spans
  uint64_t max_start_nano = 0;
  uint64_t spans = 0;
  uint64_t traces = 0;
  uint64_t bytes = 0;             // data.blk + index.blk + meta.json
  uint32_t row_groups = 0;
  uint32_t level = 0;             // 0: cut from the head; n: compacted from level n-1 blocks
  uint64_t wal_seq_max = 0;       // the head cut covered the log up to this record (0 if none)
  int64_t created_unix_nano = 0;
  // The blocks this one was compacted from (empty for a head cut). After a
  // crash between publishing this block and deleting them, BlockSet::Open
  // deletes any block listed here: this block holds all of their spans.
  std::vector<std::string> compacted_from;
  std::vector<std::string> services;                     // sorted, distinct
  std::vector<std::pair<std::string, Operation>> operations;  // (service, op), sorted, distinct
};

struct BlockWriterOptions {
  uint32_t row_group_spans = 8192;  // a row group ends at the first trace boundary past this
  int zstd_level = 3;
  // Attribute keys with at most this many distinct string values in the
  // block get postings (key=value -> row groups) in index.blk.
  uint32_t postings_max_values = 1000;
  double bloom_bits_per_trace = 10;
  // Bits per distinct attribute key=value of a row group in its attribute
  // filter (index.blk), which lets a search skip row groups without a value
  // that has no postings (a user id, say). 0: no filters, and the block is
  // written in format version 1 (the layout before them).
  double attribute_filter_bits_per_entry = 10;
  // Strings used twice or more in a row group join the block's dictionary
  // only while it holds less than this many bytes (afterwards they are
  // written inline). Span names, service names, attribute keys and posted
  // values always join: the index refers to them by id.
  uint64_t dictionary_max_bytes = 64ull << 20;
};

// Writes one block, streaming. Create() makes blocks/tmp-<random>/ and
// opens data.blk and index.blk; AddTrace() takes the spans of one trace,
// traces in strictly ascending trace-id order, and writes a row group to
// data.blk (and any full trace-id page to index.blk) each time the spans
// held reach `row_group_spans`; Finish() writes the dictionary, resource and
// scope chunks and the directory of data.blk, the bloom filter, statistics,
// postings and page index of index.blk, then meta.json, and publishes the
// block (fsync, rename, fsync of blocks_dir). A writer destroyed without a
// successful Finish() removes its tmp directory (best effort; BlockSet::Open
// removes leftovers).
//
// Memory: the spans of the current row group (as SpanRefs: the caller's
// batches stay alive until the row group is written), the dictionary and
// the resource/scope tables (distinct values), and per row group its
// statistics, postings and attribute filter; per trace only the bloom
// filter's bits at Finish (the trace ids are read back from the pages
// written).
class BlockWriter {
 public:
  virtual ~BlockWriter() = default;
  // `meta` supplies level, wal_seq_max and compacted_from; the rest is
  // computed.
  static absl::StatusOr<std::unique_ptr<BlockWriter>> Create(const std::string& blocks_dir,
                                                             const BlockMeta& meta,
                                                             const BlockWriterOptions& options = {});
  // The spans of one trace (all with the same trace id, greater than the
  // previous call's), in any order: a span repeated with the same span id and
  // kind is kept once (the first), the rest are sorted by start (stable).
  virtual absl::Status AddTrace(std::span<const model::SpanRef> spans) = 0;
  // Writes the rest and publishes; InvalidArgument if no span was added.
  virtual absl::StatusOr<BlockMeta> Finish() = 0;
  // Spans held for the current row group, and the most ever held at once.
  virtual uint64_t buffered_spans() const = 0;
  virtual uint64_t max_buffered_spans() const = 0;
};

// Writes `spans` (from any batches, in any order; a span repeated with the
// same trace and span id is kept once) as a new block under `blocks_dir` and
// publishes it: sorts them by trace and feeds a BlockWriter. `meta` supplies
// level, wal_seq_max and compacted_from; the rest is computed.
// Returns the published block's meta. On error nothing is published (a
// leftover tmp-* directory is removed by BlockSet::Open).
absl::StatusOr<BlockMeta> WriteBlock(const std::string& blocks_dir,
                                     std::span<const model::SpanRef> spans, const BlockMeta& meta,
                                     const BlockWriterOptions& options = {});

// What a block's searches did (counters since Open), for tests and metrics.
struct BlockSearchStats {
  uint64_t row_groups_read = 0;      // loaded and decoded by FindTraces
  uint64_t row_groups_filtered = 0;  // skipped because an attribute filter said no
};

// An open, published block. Open() reads meta.json and index.blk (small)
// and keeps the bloom filter and statistics in memory; span data is read
// from data.blk on demand, one row group at a time, its CRCs checked.
// A CRC or structure failure is returned as DataLossError naming the file
// and offset; the caller then treats the block as damaged.
class Block {
 public:
  virtual ~Block() = default;
  static absl::StatusOr<std::shared_ptr<Block>> Open(const std::string& dir);

  virtual const BlockMeta& meta() const = 0;
  virtual const std::string& dir() const = 0;
  // False if the trace is certainly not in the block (bloom filter).
  virtual bool MayContain(const model::TraceId& trace_id) const = 0;
  // The trace's spans in this block (an empty batch if it has none),
  // decoded into a batch that owns its memory.
  virtual absl::StatusOr<std::shared_ptr<const model::SpanBatch>> GetTrace(
      const model::TraceId& trace_id) const = 0;
  // Traces with a span matching `query` (SpanMatches, exactly as the head
  // decides), as (newest matching span start, trace id), at most
  // query.limit of them, newest first. Row groups that cannot match (time
  // range, service/operation ids, a tag value absent from the dictionary or
  // from the postings or ruled out by the row group's attribute filter) are
  // not read.
  virtual absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const TraceQuery& query) const = 0;
  // Caller -> callee service edges (as Head::Dependencies) for spans whose
  // start is in [start_nano, end_nano].
  virtual absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t start_nano,
                                                               uint64_t end_nano) const = 0;
  // Every span of the block, row group by row group, in order (compaction).
  virtual absl::StatusOr<std::shared_ptr<const model::SpanBatch>> ReadRowGroup(
      uint32_t index) const = 0;
  // Reads and checks everything: every chunk's CRC, every structure, the
  // index against the data (fsck). OK or the first problem found.
  virtual absl::Status Verify() const = 0;
  // Bytes of memory held (bloom filter, statistics, caches).
  virtual uint64_t memory_bytes() const = 0;
  virtual BlockSearchStats search_stats() const { return {}; }
};

}  // namespace ariadne::store
