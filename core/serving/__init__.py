"""The serving kit both HTTP services are built from (the search server and the QA service).

| module | what it holds |
|---|---|
| `app.py` | `ServiceConfig`, `service_app(...)`: the app factory (admission, metrics, middlewares, error handlers) |
| `envelope.py` | the one error envelope `{"error": true, "message": ...}`, `error_responses` for the schema |
| `admission.py` | `Admission`: workers, a bounded line, deadlines, measured-time estimates, jittered `Retry-After` |
| `door.py` | `DoorMiddleware`: 503 + `Retry-After` before a body is read while admission is full |
| `guard.py` | `GuardMiddleware` (API key in a header or `?api_key=`, body limit), `check_exposure` |
| `metrics.py` | `ServiceMetrics` (Prometheus), `MetricsMiddleware`, `shared_metrics` for several processes |
| `fields.py` | request fields both take: `QueryText`, `PassageCount`, `MAX_K`, `WARMUP_QUERY` |
| `runtime.py` | `Warmup`, `warm_up`, `bind_socket`, `serve_forever`, `serve_in_thread` |

A service module keeps only its protocol: its request and answer models, its routes, its warm-up.
"""
