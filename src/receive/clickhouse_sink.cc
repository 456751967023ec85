#include "receive/clickhouse_sink.h"

#include <memory>

namespace ariadne::receive {

void ClickHouseSink::Submit(model::SpanBatch batch, std::string_view /*raw_otlp*/,
                            std::function<void(absl::Status)> done) {
  if (batch.empty()) {
    done(absl::OkStatus());
    return;
  }
  // The writer encodes its rows (and each span's OTLP blob) from the batch,
  // so the request body is not needed apart from the batch that owns it.
  auto shared = std::make_shared<const model::SpanBatch>(std::move(batch));
  // `done` is moved into the ack only if Enqueue accepts the batch; the ack
  // is not called otherwise, so the refusal is answered here.
  auto pending = std::make_shared<std::function<void(absl::Status)>>(std::move(done));
  absl::Status queued = writer_->Enqueue(
      shared, [this, shared, pending](const absl::Status& stored) {
        auto finish = [this, shared, pending, stored] {
          (*pending)(stored);
          if (stored.ok() && stored_listener_) stored_listener_(shared);
        };
        if (run_after_ack_) {
          run_after_ack_(std::move(finish));
        } else {
          finish();
        }
      });
  if (!queued.ok()) (*pending)(std::move(queued));
}

}  // namespace ariadne::receive
