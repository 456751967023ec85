'use strict';
// A real OpenTelemetry JS client. otel_sdk.test.mjs copies this file into the
// temporary folder where it installed the SDK and runs it there:
//
//   node otel_client.cjs <grpc|proto|http-json|zipkin> <url> <service.name>
//
// It makes one nested trace (SERVER root -> CLIENT child with a link ->
// INTERNAL grandchild with an error and an exception) plus the span the link
// points to, exports them through the chosen exporter, and prints one line
// `ARIADNE-RESULT {json}` describing every exported span as the SDK saw it.

const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { Resource } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');

const [exporterKind, url, serviceName] = process.argv.slice(2);

function makeExporter(kind) {
  switch (kind) {
    case 'grpc': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
      // gzip: the server must take gRPC's compressed messages too.
      return new OTLPTraceExporter({ url, timeoutMillis: 10000, compression: 'gzip' });
    }
    case 'proto': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
      // gzip: protobuf with Content-Encoding: gzip (JSON stays uncompressed).
      return new OTLPTraceExporter({ url, timeoutMillis: 10000, compression: 'gzip' });
    }
    case 'http-json': {
      const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter({ url, timeoutMillis: 10000 });
    }
    case 'zipkin': {
      const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
      return new ZipkinExporter({ url });
    }
    default:
      throw new Error(`unknown exporter ${kind}`);
  }
}

// Wraps the real exporter to remember what it was asked to send and how it went.
class RecordingExporter {
  constructor(inner) {
    this.inner = inner;
    this.spans = [];
    this.results = [];
  }
  export(spans, done) {
    this.spans.push(...spans);
    this.inner.export(spans, (result) => {
      this.results.push({
        code: result.code,
        error: result.error ? String(result.error.stack || result.error) : undefined,
      });
      done(result);
    });
  }
  shutdown() {
    return this.inner.shutdown();
  }
  forceFlush() {
    return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hrToNs(hr) {
  return (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();
}

function describeSpan(s) {
  const ctx = s.spanContext();
  const parent = s.parentSpanId ?? (s.parentSpanContext ? s.parentSpanContext.spanId : '');
  const scope = s.instrumentationScope || s.instrumentationLibrary || {};
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: parent || '',
    name: s.name,
    kind: s.kind, // @opentelemetry/api SpanKind: INTERNAL 0, SERVER 1, CLIENT 2, PRODUCER 3, CONSUMER 4
    startNs: hrToNs(s.startTime),
    endNs: hrToNs(s.endTime),
    attributes: s.attributes,
    events: s.events.map((e) => ({ name: e.name, timeNs: hrToNs(e.time), attributes: e.attributes || {} })),
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      attributes: l.attributes || {},
    })),
    status: { code: s.status.code, message: s.status.message || '' },
    resource: s.resource.attributes,
    scope: { name: scope.name, version: scope.version },
  };
}

async function main() {
  const exporter = new RecordingExporter(makeExporter(exporterKind));
  const resource = new Resource({
    [ATTR_SERVICE_NAME]: serviceName,
    'deployment.environment': 'itest',
    'itest.exporter': exporterKind,
  });
  const config = { resource, spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000 })] };
  // Both provider flavours: the Node one for two exporters, the basic one for the others.
  const provider = exporterKind === 'grpc' || exporterKind === 'zipkin'
    ? new NodeTracerProvider(config)
    : new BasicTracerProvider(config);
  const tracer = provider.getTracer('itest-tracer', '1.2.3');
  const { SpanKind, SpanStatusCode } = api;

  // The span the child links to, in a trace of its own.
  const linkTarget = tracer.startSpan('link-target', { kind: SpanKind.PRODUCER }, api.ROOT_CONTEXT);
  await sleep(2);
  linkTarget.end();

  const root = tracer.startSpan(
    'root-op',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'str.attr': 'hello',
        'int.attr': 42,
        'double.attr': 3.5,
        'bool.attr': true,
        'strarr.attr': ['a', 'b', 'c'],
        'intarr.attr': [1, 2, 3],
      },
    },
    api.ROOT_CONTEXT);
  await sleep(2);
  root.addEvent('cache.miss', { 'cache.key': 'user:42', 'cache.attempt': 2, 'cache.ratio': 0.25, 'cache.final': false });
  const rootCtx = api.trace.setSpan(api.ROOT_CONTEXT, root);

  const child = tracer.startSpan(
    'child-op',
    {
      kind: SpanKind.CLIENT,
      attributes: { 'peer.service': 'inventory', 'http.request.method': 'GET' },
      links: [{ context: linkTarget.spanContext(), attributes: { 'link.reason': 'batch-of', 'link.index': 3 } }],
    },
    rootCtx);
  const childCtx = api.trace.setSpan(rootCtx, child);
  await sleep(2);

  const grandchild = tracer.startSpan('grandchild-op', { kind: SpanKind.INTERNAL, attributes: { 'work.items': 17 } }, childCtx);
  await sleep(2);
  grandchild.recordException(new Error('kaboom: disk on fire'));
  grandchild.setStatus({ code: SpanStatusCode.ERROR, message: 'boom happened' });
  grandchild.end();
  await sleep(1);
  child.end();
  await sleep(1);
  root.end();

  // A failed export rejects the flush; the failure is reported through exportResults.
  let flushError;
  try {
    await provider.forceFlush();
    await provider.shutdown();
  } catch (e) {
    flushError = String(e.stack || e);
  }

  const result = {
    exporter: exporterKind,
    service: serviceName,
    traceId: root.spanContext().traceId,
    linkTarget: { traceId: linkTarget.spanContext().traceId, spanId: linkTarget.spanContext().spanId },
    exportResults: exporter.results,
    flushError,
    spans: exporter.spans.map(describeSpan),
  };
  process.stdout.write(`ARIADNE-RESULT ${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  process.stderr.write(`otel_client failed: ${e.stack || e}\n`);
  process.exit(1);
});
