// ClickHouseSink: the SpanSink of `storage.backend: clickhouse`
// (docs/clickhouse.md, "Wiring it into ariadne serve").
//
// Submit hands the batch to a ClickHouseWriter and answers the client from
// the writer's acknowledgement: OK only once ClickHouse confirmed the INSERT
// that carried the batch. A full writer queue is ResourceExhausted (429 /
// RESOURCE_EXHAUSTED), a stopping writer Unavailable (503 / UNAVAILABLE),
// at once; no write-ahead log or head is involved.
//
// Threading: the writer acknowledges on its sender thread; the answer and
// the stored listener are posted through `run_after_ack` (the server's I/O
// threads), so the sender thread only sends.
#pragma once

#include <functional>

#include "clickhouse/writer.h"
#include "receive/sink.h"

namespace ariadne::receive {

class ClickHouseSink : public SpanSink {
 public:
  using Executor = std::function<void(std::function<void()>)>;
  // `writer` must outlive the sink. Empty `run_after_ack`: acks run on the
  // writer's thread.
  ClickHouseSink(clickhouse::ClickHouseWriter* writer, Executor run_after_ack = {})
      : writer_(writer), run_after_ack_(std::move(run_after_ack)) {}

  void Submit(model::SpanBatch batch, std::string_view raw_otlp,
              std::function<void(absl::Status)> done) override;

 private:
  clickhouse::ClickHouseWriter* const writer_;
  const Executor run_after_ack_;
};

}  // namespace ariadne::receive
