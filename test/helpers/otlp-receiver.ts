// The loopback OTLP/HTTP receiver the tracing test reads spans from (shared with the bench's sink).
export { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../bench/otlp-receiver.js';
