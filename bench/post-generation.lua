-- wrk script: POST a 64x64 b64_json generation to the test pipeline.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"prompt":"benchmark","size":"64x64","seed":1,"response_format":"b64_json"}'

function done(summary, latency, requests)
  io.write(string.format("RESULT requests_per_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
