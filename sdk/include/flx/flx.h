/*
 * flx.h — the fluxserve plugin ABI (C99).
 *
 * A plugin is a shared library exporting exactly one symbol, flx_plugin_init(). The host
 * calls it once after dlopen(RTLD_NOW | RTLD_LOCAL) and receives a static table of
 * factories; each factory creates instances ("stages") of one kind (scheduler, pipeline,
 * recovery, metrics, queue) under one type name, the `type:` of a YAML stage.
 *
 * Contents, in reading order:
 *   1. versioning and export macros
 *   2. status codes and opaque errors
 *   3. opaque host objects (host context, config view, call, result, decision, buffer)
 *   4. plain data crossing the boundary (key/value, request, event)
 *   5. the host services table (flx_host_api)
 *   6. the per-kind interfaces a factory offers (scheduler, pipeline, recovery, metrics,
 *      queue)
 *   7. factories, plugin info and the entry symbol
 *
 * Rules that hold everywhere:
 *   - Every struct that crosses starts with `size_t struct_size`, set by whoever fills it to
 *     sizeof() of the struct as *it* was compiled. A reader never touches a field that lies
 *     beyond struct_size (use FLX_HAS_FIELD). Structs only ever grow at the end.
 *   - flx_error* NULL means success. A non-NULL error is owned by the receiver, who frees it
 *     with flx_host_api.error_free. On error, out-parameters are left untouched.
 *   - Strings are UTF-8 and NUL-terminated. A `const char*` argument is borrowed for the
 *     duration of the call only; copy it to keep it.
 *   - No C++ exception, longjmp or C++ type ever crosses this boundary.
 *   - Destroy/free functions return void and accept NULL.
 */
#ifndef FLX_FLX_H_
#define FLX_FLX_H_

#include <stddef.h>
#include <stdint.h>

#include "vocabulary.h" /* the shared names: knobs, phases, gauges */

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * 1. Versioning and export
 * ------------------------------------------------------------------------------------- */

/* The host loads a plugin only when the majors are equal and the host's minor is at least
 * the plugin's minor (a plugin may rely on everything up to its own minor). A minor release
 * only appends fields to structs and functions to tables.
 *   1.0  the first release
 *   1.1  flx_request.dump_dir; the shared names of flx/vocabulary.h
 *   1.2  flx_factory.settings: the operator settings a factory declares (flx_setting);
 *        events JOB_ENDED and REPLAYED; previews (flx_host_api.preview_wanted, preview)
 *   1.3  the queue kind (flx_queue_iface): a job queue several replicas share;
 *        flx_request.init_image, mask and strength (image-to-image, inpainting)
 *   1.4  flx_request.loras, n_loras and loras_given (LoRA adapters per request);
 *        flx_pipeline_iface.unload (models loaded and unloaded at run time) */
#define FLX_ABI_MAJOR 1
#define FLX_ABI_MINOR 4

#if defined(_WIN32)
#define FLX_EXPORT __declspec(dllexport)
#else
#define FLX_EXPORT __attribute__((visibility("default")))
#endif

/* True when the struct pointed to by `ptr` (whose first member is struct_size) is large
 * enough to contain `field` of type `type`. */
#define FLX_HAS_FIELD(type, ptr, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* ---------------------------------------------------------------------------------------
 * 2. Status codes and errors
 * ------------------------------------------------------------------------------------- */

/* Codes follow the absl/gRPC canonical set. The host maps them to HTTP statuses:
 * INVALID_ARGUMENT 400, NOT_FOUND 404, RESOURCE_EXHAUSTED 429 from a scheduler (queue full)
 * or 507-style "out of memory" 500 from a pipeline, DEADLINE_EXCEEDED 503 + Retry-After from a
 * scheduler (queued past its own limit: an overload) or 504 otherwise (the request's
 * deadline, see deadline()), UNAVAILABLE 503, CANCELLED 499, everything else 500. A call
 * whose deadline has passed reads as cancelled; whatever a stage then returns, the host
 * answers 504. Out-of-memory on any device is RESOURCE_EXHAUSTED. */
typedef enum flx_code {
  FLX_OK = 0,
  FLX_CANCELLED = 1,
  FLX_UNKNOWN = 2,
  FLX_INVALID_ARGUMENT = 3,
  FLX_DEADLINE_EXCEEDED = 4,
  FLX_NOT_FOUND = 5,
  FLX_ALREADY_EXISTS = 6,
  FLX_PERMISSION_DENIED = 7,
  FLX_RESOURCE_EXHAUSTED = 8,
  FLX_FAILED_PRECONDITION = 9,
  FLX_ABORTED = 10,
  FLX_OUT_OF_RANGE = 11,
  FLX_UNIMPLEMENTED = 12,
  FLX_INTERNAL = 13,
  FLX_UNAVAILABLE = 14,
  /* Not a code: makes every int32 value a valid flx_code in C and C++, since a plugin built
   * against a newer SDK may pass codes this one does not list (read them as UNKNOWN). */
  FLX_CODE_RANGE_ = 0x7FFFFFFF
} flx_code;

/* An error: a code, a message and optional string details (e.g. "retry_after_ms").
 * Opaque; created and freed only through flx_host_api, so memory never changes allocator. */
typedef struct flx_error flx_error;

/* ---------------------------------------------------------------------------------------
 * 3. Opaque host objects. All are owned by the host; plugins only hold borrowed pointers.
 * ------------------------------------------------------------------------------------- */

/* The host context of one stage instance: its id, its logger, its event sink. Valid from
 * create() until destroy() returns. */
typedef struct flx_host flx_host;

/* A read-only view of a YAML node (a stage's `config:` map or a node below it). Valid as
 * long as the node it was obtained from; the stage's root config lives until destroy(). */
typedef struct flx_config flx_config;

/* One HTTP request's passage through a chain (its id, its cancellation state). Valid for
 * the duration of the interface call it is passed to. */
typedef struct flx_call flx_call;

/* Where a pipeline writes its images and effective parameters. Valid during generate(). */
typedef struct flx_result flx_result;

/* Where a recovery policy writes its decision. Valid during decide(). */
typedef struct flx_decision flx_decision;

/* A growable byte buffer the host owns; plugins append to it. Valid during the call. */
typedef struct flx_buffer flx_buffer;

/* ---------------------------------------------------------------------------------------
 * 4. Plain data
 * ------------------------------------------------------------------------------------- */

/* A borrowed key/value pair of strings. */
typedef struct flx_kv {
  const char* key;
  const char* value;
} flx_kv;

/* An 8-bit image the host hands over (borrowed for the call it comes with): `channels`
 * interleaved bytes per pixel (1 = gray, 3 = RGB, 4 = RGBA), rows top to bottom, `stride`
 * bytes apart. */
typedef struct flx_image {
  size_t struct_size;
  uint32_t width;
  uint32_t height;
  uint32_t channels;
  size_t stride;
  const uint8_t* pixels;
} flx_image;

/* Since 1.4: a LoRA adapter a request asks for, by the name the pipeline lists it under
 * (for FLUX: its file name in the stage's lora_dir without ".safetensors"), and the factor
 * its low-rank update is scaled by (1 = as trained; 0 = no effect; negative values invert
 * it). Borrowed like the request that points at it. */
typedef struct flx_lora {
  const char* name; /* never NULL */
  float scale;      /* finite */
} flx_lora;

/* One generation request as the pipeline sees it, after validation and defaults. Filled
 * by the host; every pointer is borrowed for the duration of the call it is passed to. */
typedef struct flx_request {
  size_t struct_size;
  const char* id;     /* request id (X-Request-Id), never NULL */
  const char* model;  /* the public model id the client asked for, never NULL */
  const char* prompt; /* never NULL, may be "" */
  const char* prompt_2; /* second prompt (T5 for FLUX); NULL = same as prompt */
  uint32_t width;     /* pixels; 0 = the pipeline's default */
  uint32_t height;    /* pixels; 0 = the pipeline's default */
  uint32_t steps;     /* 0 = the pipeline's default */
  uint32_t n;         /* images to make, >= 1 */
  float guidance;     /* NaN = the pipeline's default */
  uint32_t max_sequence_length; /* 0 = the pipeline's default */
  uint64_t seed;      /* image i uses seed + i */
  /* Per-try knobs set by a recovery stage (e.g. {"attention_slicing","max"}; the names and
   * values are in flx/vocabulary.h); the pipeline applies those it knows and ignores the
   * others. Usually empty on a first try. */
  const flx_kv* overrides;
  size_t n_overrides;
  flx_call* call;     /* for cancelled(), log() and emit() about this request */
  /* Since 1.1 (test with FLX_HAS_FIELD): a folder to write the intermediate tensors of the
   * generation into, for debugging (`fluxserve generate --dump`), or NULL. Never set from
   * HTTP. A pipeline without a dump format ignores it. */
  const char* dump_dir;
  /* Since 1.3 (test with FLX_HAS_FIELD): an edit (POST /v1/images/edits). `init_image` is the
   * image to start from, RGB, at the size the client sent (the pipeline resizes it to the
   * request's width x height as its model's preprocessing does; width and height 0 mean the
   * pipeline's choice, for FLUX the image's own size rounded down to its size multiple), or
   * NULL for text-to-image. `mask`, only with an init_image, is the area to repaint: gray, the
   * init image's size, 255 = repaint and 0 = keep (the host converts OpenAI's convention,
   * where transparent pixels mark the area); NULL = the whole image (image-to-image).
   * `strength` in (0, 1]: how much of the image is replaced (diffusers' strength: 1 starts
   * from pure noise); NaN = the pipeline's default. A pipeline without edits answers
   * FLX_UNIMPLEMENTED when init_image is set. */
  const flx_image* init_image;
  const flx_image* mask;
  float strength;
  /* Since 1.4 (test with FLX_HAS_FIELD): the LoRA adapters to apply, in order, when
   * `loras_given` is 1 (n_loras 0 then means none, not even the pipeline's default set); when
   * it is 0 the pipeline applies its own default set and `loras` is NULL. A pipeline answers
   * FLX_INVALID_ARGUMENT (param "lora") for a name it does not have, and FLX_UNIMPLEMENTED
   * when it has no LoRA support and adapters were asked for. */
  const flx_lora* loras;
  size_t n_loras;
  int loras_given;
} flx_request;

/* What happened; observers (metrics) receive every event of every stage. */
typedef enum flx_event_type {
  FLX_EVENT_QUEUED = 1,    /* entered a scheduler queue; value = queue depth after */
  FLX_EVENT_ADMITTED = 2,  /* left the queue; value = seconds waited */
  FLX_EVENT_STARTED = 3,   /* a pipeline try started */
  FLX_EVENT_STEP = 4,      /* step `step` of `total` finished; value = seconds it took */
  FLX_EVENT_PHASE = 5,     /* phase `name` finished; value = seconds. The names are the
                              FLX_PHASE_* of flx/vocabulary.h */
  FLX_EVENT_OOM = 6,       /* a try failed with RESOURCE_EXHAUSTED; message = why */
  FLX_EVENT_FALLBACK = 7,  /* recovery chose rung `name`; message = human text */
  FLX_EVENT_COMPLETED = 8, /* request answered (host); code = HTTP status, name = error code
                              or NULL on success, value = total seconds, step = images made */
  FLX_EVENT_REJECTED = 9,  /* refused before running; name = reason code ("queue_full") */
  FLX_EVENT_GAUGE = 10,    /* a level changed; name = gauge (FLX_GAUGE_* of
                              flx/vocabulary.h), value = new level */
  FLX_EVENT_JOB_ENDED = 11, /* since 1.2: a background job ended (host); name = its status
                              (succeeded, failed, cancelled), code = the HTTP status of its
                              result, value = seconds from its first try to its end (0 when
                              it never ran) */
  FLX_EVENT_REPLAYED = 12, /* since 1.2: a request with an Idempotency-Key was answered by
                              the job an earlier request with that key started (host) */
  FLX_EVENT_TYPE_RANGE_ = 0x7FFFFFFF /* not a type: every int32 is a valid value (see flx_code) */
} flx_event_type;

typedef struct flx_event {
  size_t struct_size;
  flx_event_type type;
  const char* request_id; /* NULL for events not tied to a request */
  const char* model;      /* public model id, or NULL */
  const char* stage_id;   /* the stage that emitted it, filled by the host */
  const char* name;       /* meaning depends on type; may be NULL */
  const char* message;    /* may be NULL */
  double value;
  uint32_t step;
  uint32_t total;
  int32_t code;
} flx_event;

/* Log levels, matching spdlog's. */
typedef enum flx_log_level {
  FLX_LOG_TRACE = 0,
  FLX_LOG_DEBUG = 1,
  FLX_LOG_INFO = 2,
  FLX_LOG_WARN = 3,
  FLX_LOG_ERROR = 4,
  FLX_LOG_CRITICAL = 5,
  FLX_LOG_LEVEL_RANGE_ = 0x7FFFFFFF /* not a level: every int32 is a valid value (see flx_code) */
} flx_log_level;

/* ---------------------------------------------------------------------------------------
 * 5. Host services
 * ------------------------------------------------------------------------------------- */

/* Passed to flx_plugin_init and valid until the library is unloaded. Functions may be
 * called from any thread unless stated otherwise. */
typedef struct flx_host_api {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* --- errors --- */
  /* Returns a new error the caller owns; `message` is copied (NULL is treated as ""). */
  flx_error* (*error_new)(flx_code code, const char* message);
  /* Attaches a string detail (copied; an existing key is replaced). Known keys:
   * "retry_after_ms" (429), "param" (the offending request field). No-op on NULL. */
  void (*error_set_detail)(flx_error* error, const char* key, const char* value);
  /* Reads back an error. The returned string lives as long as the error. */
  flx_code (*error_code)(const flx_error* error);
  const char* (*error_message)(const flx_error* error);
  /* Returns the detail's value, or NULL; lives as long as the error. */
  const char* (*error_detail)(const flx_error* error, const char* key);
  /* Frees an error. Accepts NULL. */
  void (*error_free)(flx_error* error);

  /* --- logging --- */
  /* Writes one line to the host's log, tagged with the stage id and, when `call` is not
   * NULL, the request id. `message` need not be NUL-terminated; `length` bytes are read. */
  void (*log)(const flx_host* host, const flx_call* call, flx_log_level level,
              const char* message, size_t length);
  /* True when a message at `level` would be written (to skip formatting cost). */
  int (*log_enabled)(const flx_host* host, flx_log_level level);

  /* --- configuration: typed lookups in a YAML map --- */
  /* Each getter looks up `key` in the map `config`. A missing key returns NULL (success)
   * with *found = 0 and the out-value untouched; a present key of the wrong type returns
   * FLX_INVALID_ARGUMENT whose message starts "file:line:col: <path>:". Every key looked up
   * is marked as read; the host warns about keys no one read. */
  flx_error* (*config_get_string)(const flx_config* config, const char* key, int* found,
                                  const char** out /* lives as long as `config` */);
  flx_error* (*config_get_int)(const flx_config* config, const char* key, int* found,
                               int64_t* out);
  flx_error* (*config_get_double)(const flx_config* config, const char* key, int* found,
                                  double* out);
  flx_error* (*config_get_bool)(const flx_config* config, const char* key, int* found,
                                int* out);
  /* A child node (map or sequence) of `config`; *out lives as long as `config`. */
  flx_error* (*config_get_node)(const flx_config* config, const char* key, int* found,
                                const flx_config** out);
  /* For a sequence node: its length (0 for other nodes), and element `index`. */
  size_t (*config_size)(const flx_config* config);
  flx_error* (*config_at)(const flx_config* config, size_t index, const flx_config** out);
  /* For a map node: its number of keys and the key at `index` (lives as long as `config`). */
  size_t (*config_key_count)(const flx_config* config);
  const char* (*config_key_at)(const flx_config* config, size_t index);
  /* The scalar text of a node (NULL for maps and sequences); lives as long as `config`. */
  const char* (*config_scalar)(const flx_config* config);
  /* Builds an INVALID_ARGUMENT error whose message is "file:line:col: <path>: message" for
   * this node, so plugins report semantic errors (bad enum value...) with a location. */
  flx_error* (*config_error)(const flx_config* config, const char* message);

  /* --- events and cancellation --- */
  /* Sends an event to every observer. The host fills stage_id, and request_id/model from
   * `call` when it is not NULL. The event and its strings are borrowed for the call. */
  void (*emit)(const flx_host* host, const flx_call* call, const flx_event* event);
  /* True when the request was cancelled (client gone, server shutting down, deadline).
   * Cheap; poll it between units of work. */
  int (*cancelled)(const flx_call* call);
  /* Seconds since the Unix epoch at which the call must be finished, or 0 for none. */
  double (*deadline)(const flx_call* call);

  /* --- outputs --- */
  /* Appends one image to the result; `pixels` (rows of `stride` bytes, 8-bit interleaved,
   * channels 3 = RGB or 4 = RGBA) are copied before the call returns. */
  flx_error* (*result_add_image)(flx_result* result, uint32_t width, uint32_t height,
                                 uint32_t channels, size_t stride, const uint8_t* pixels,
                                 uint64_t seed);
  /* Records an effective parameter ("steps", "width", "dtype", ...), copied. */
  void (*result_set_param)(flx_result* result, const char* key, const char* value);
  /* Recovery: the rung to take (reason_code is machine-readable, message for humans). */
  void (*decision_retry)(flx_decision* decision, const char* reason_code,
                         const char* message, uint32_t delay_ms);
  /* Recovery: a knob for the next try; copied; replaces an earlier value of the key. */
  void (*decision_set_override)(flx_decision* decision, const char* key, const char* value);
  /* Appends bytes to a buffer (copied). */
  void (*buffer_append)(flx_buffer* buffer, const char* data, size_t length);

  /* --- previews (since 1.2: test with FLX_HAS_FIELD(flx_host_api, api, preview)) --- */
  /* True when the host wants a preview of the image after step `step` of `total` (a client
   * asked for partial images: the host spreads them over the steps). Cheap: ask after every
   * step. */
  int (*preview_wanted)(const flx_call* call, uint32_t step, uint32_t total);
  /* Hands over a preview of the image being made after step `step` of `total`: 8-bit,
   * channels 3 (RGB) or 4 (RGBA), rows top to bottom of width * channels bytes; copied
   * before the call returns. It should cost far less than a step: a cheap projection of
   * the latents at their own resolution, say, not a full decode. */
  void (*preview)(const flx_host* host, const flx_call* call, uint32_t step, uint32_t total,
                  uint32_t width, uint32_t height, uint32_t channels, const uint8_t* pixels);
} flx_host_api;

/* ---------------------------------------------------------------------------------------
 * 6. Interfaces per kind. `self` is what the factory's create() returned.
 * ------------------------------------------------------------------------------------- */

typedef enum flx_kind {
  FLX_KIND_SCHEDULER = 1,
  FLX_KIND_PIPELINE = 2,
  FLX_KIND_RECOVERY = 3,
  FLX_KIND_METRICS = 4,
  FLX_KIND_QUEUE = 5, /* since 1.3 */
  FLX_KIND_RANGE_ = 0x7FFFFFFF /* not a kind: every int32 is a valid value (see flx_code) */
} flx_kind;

/* Describes the stage that comes after the scheduler in a chain. */
typedef struct flx_admission {
  size_t struct_size;
  const char* pipeline_id;   /* stage id of the chain's pipeline instance */
  int pipeline_threadsafe;   /* the pipeline's factory declared FLX_FLAG_THREADSAFE */
} flx_admission;

/* An admission granted by a scheduler; opaque to the host. */
typedef struct flx_ticket flx_ticket;

typedef struct flx_scheduler_iface {
  size_t struct_size;
  /* Blocks until the request may run, then sets *ticket (owned by the host, which must hand
   * it back to release()). Fails with RESOURCE_EXHAUSTED (queue full; detail
   * "retry_after_ms"), DEADLINE_EXCEEDED (queued too long), CANCELLED (the call was
   * cancelled while queued) or UNAVAILABLE (shutting down). Thread-safe. */
  flx_error* (*admit)(void* self, const flx_request* request, const flx_admission* admission,
                      flx_ticket** ticket);
  /* Ends an admission; `seconds` is how long the work took (for Retry-After estimates).
   * Accepts NULL. Thread-safe. */
  void (*release)(void* self, flx_ticket* ticket, double seconds);
  /* Writes the scheduler's active settings as a JSON object into `out`. May be NULL. */
  flx_error* (*describe)(void* self, flx_buffer* out);
} flx_scheduler_iface;

typedef struct flx_pipeline_iface {
  size_t struct_size;
  /* Loads what load-at-create did not and warms up. Called once, before any generate(),
   * from a host thread while /readyz says "loading"; an error leaves the model not ready. */
  flx_error* (*prepare)(void* self);
  /* Makes request->n images and writes them to `result`. Concurrent calls happen only
   * when the factory has FLX_FLAG_THREADSAFE. Out of memory is FLX_RESOURCE_EXHAUSTED. */
  flx_error* (*generate)(void* self, const flx_request* request, flx_result* result);
  /* Writes the pipeline's active configuration as a JSON object into `out`. May be NULL. */
  flx_error* (*describe)(void* self, flx_buffer* out);
  /* Since 1.4 (test with FLX_HAS_FIELD; may be NULL: the pipeline cannot unload): gives back
   * what prepare() loaded (weights, caches), so the model no longer holds memory. The host
   * calls it only while no generate() of this stage runs and none starts; it calls prepare()
   * again before the next generate(). FLX_UNIMPLEMENTED = this pipeline cannot unload. */
  flx_error* (*unload)(void* self);
} flx_pipeline_iface;

typedef struct flx_recovery_iface {
  size_t struct_size;
  /* Called after try number `attempt` (1-based) failed with `failure` (borrowed). To retry,
   * call decision_retry() and any decision_set_override(); to give up, do neither. The
   * overrides of earlier decisions for this request stay in force. Returns an error only
   * when the policy itself fails. Thread-safe. */
  flx_error* (*decide)(void* self, const flx_request* request, const flx_error* failure,
                       uint32_t attempt, flx_decision* decision);
} flx_recovery_iface;

typedef struct flx_metrics_iface {
  size_t struct_size;
  /* Receives every event (borrowed for the call). Called from many threads; must be
   * cheap and must not block. */
  void (*observe)(void* self, const flx_event* event);
  /* Serves GET `path` if it is this stage's: appends the body to `body`, sets
   * *content_type to a static string and returns NULL; returns FLX_NOT_FOUND otherwise. */
  flx_error* (*http_get)(void* self, const char* path, flx_buffer* body,
                         const char** content_type);
  /* Writes per-model statistics (rolling averages...) for `model` as a JSON object. */
  flx_error* (*describe_model)(void* self, const char* model, flx_buffer* out);
} flx_metrics_iface;

/* A job queue that several fluxserve replicas share (since 1.3), named by the graph's
 * `job_queue:`. With one, every generation request becomes a job in it: the HTTP front of any
 * replica submits jobs and reads them back (status, progress, events, cancel, result), and
 * each replica's workers claim the jobs of the models it serves, run them and finish them.
 * Without one, jobs stay inside the process.
 *
 * A job's record is a set of string members the host writes and reads back:
 *   id, model, status (queued | running | succeeded | failed | cancelled), created_at,
 *   started_at, finished_at (Unix seconds), step, steps, cancel_requested ("1" or "0"),
 *   replica (who runs it), deliveries (how often it was claimed), response (the images
 *   response JSON, succeeded), error (the error envelope JSON, failed or cancelled),
 *   error_status (that error's HTTP status), queue_position (queued only: the model's jobs
 *   ahead of it).
 * A queue keeps members it does not know and returns them unchanged. Records are written to
 * `out` buffers as JSON objects of string members. A job's events are server-sent events
 * (a name and JSON data) any replica can replay and follow.
 *
 * Every function is thread-safe and may block (on the network) for up to the queue's own
 * timeouts. A backend that cannot be reached answers FLX_UNAVAILABLE with a message naming
 * it; the host answers 503 and retries later. Strings in and out are UTF-8. */
typedef struct flx_queue_iface {
  size_t struct_size;
  /* --- the HTTP front (any replica) --- */
  /* Adds job `job_id` (unique, [A-Za-z0-9_-]) of model `model` with its first record members
   * (`record`, n_record pairs: id, model, status "queued", created_at...) and the host's
   * `payload` (what a worker needs to run it; opaque to the queue). Fails with
   * RESOURCE_EXHAUSTED (detail "retry_after_ms") when the model's queue is full, and with
   * ALREADY_EXISTS when a record of `job_id` exists (the host derives the ids of requests
   * with an Idempotency-Key from the key, so a retry finds the first one's job). */
  flx_error* (*submit)(void* self, const char* job_id, const char* model, const flx_kv* record,
                       size_t n_record, const char* payload);
  /* Writes the record of `job_id` into `out` (with queue_position while it waits). NOT_FOUND
   * when there is none; with detail "expired" = "true" when it ended and was forgotten. */
  flx_error* (*get)(void* self, const char* job_id, flx_buffer* out);
  /* Writes a JSON array of records into `out`, newest first, at most `limit`, only those whose
   * status is `status` when it is not NULL; without their response and error members. */
  flx_error* (*list)(void* self, const char* status, uint32_t limit, flx_buffer* out);
  /* Asks a job that has not ended to stop: sets cancel_requested; the worker that runs it (or
   * the next one to claim it) ends it cancelled. NOT_FOUND as get(); FAILED_PRECONDITION when
   * the job has already ended. */
  flx_error* (*cancel)(void* self, const char* job_id);
  /* Appends an event (`name`, JSON `data`) to the job's events (kept as long as its record). */
  flx_error* (*append_event)(void* self, const char* job_id, const char* name, const char* data);
  /* Writes the job's events after the event whose id is `after` ("" = from the first) into
   * `out` as a JSON array of {"id", "name", "data"} objects, oldest first, waiting up to
   * `wait_ms` for one when there is none yet (an empty array then). After the job's record
   * has ended, the queue appends one last event named FLX_QUEUE_ENDED_EVENT ("flx.ended",
   * flx/vocabulary.h; data "{}"). */
  flx_error* (*read_events)(void* self, const char* job_id, const char* after, uint32_t wait_ms,
                            flx_buffer* out);
  /* --- the workers (each replica, for the models it serves) --- */
  /* Takes the next job of `model` for this replica, waiting up to `wait_ms`: writes
   * {"job_id", "payload", "deliveries"} into `out`, or nothing when there is none. A job whose
   * replica went silent (no update() for the queue's claim time) is delivered again; one
   * delivered too often ends failed instead (with its error and "flx.ended"). Call it only
   * with a free slot for the job: what is claimed is this replica's to run. */
  flx_error* (*claim)(void* self, const char* model, uint32_t wait_ms, flx_buffer* out);
  /* Sets members of a claimed job's record (status "running", step, steps, started_at...) and
   * tells the queue the job is alive; sets *cancel_requested to whether the job was asked to
   * stop. The host calls it at least once a second while the job runs, so a queue may take a
   * job over after a few seconds without one. */
  flx_error* (*update)(void* self, const char* job_id, const flx_kv* fields, size_t n_fields,
                       int* cancel_requested);
  /* Ends a claimed job with its final members (status, finished_at, response or error,
   * error_status): it leaves the queue, its record and events are kept for the queue's result
   * time, and "flx.ended" is appended to its events. Retried by the host until it succeeds. */
  flx_error* (*finish)(void* self, const char* job_id, const flx_kv* fields, size_t n_fields);
  /* --- health --- */
  /* NULL when the backend answers now; UNAVAILABLE saying why otherwise (readiness,
   * `fluxserve check-config --connect`). */
  flx_error* (*check)(void* self);
  /* Writes the queue's active settings (and depth per model, when cheap) as a JSON object. */
  flx_error* (*describe)(void* self, flx_buffer* out);
} flx_queue_iface;

/* ---------------------------------------------------------------------------------------
 * 7. Factories and the entry point
 * ------------------------------------------------------------------------------------- */

/* Factory flags. */
#define FLX_FLAG_THREADSAFE 1u /* the interface may be entered concurrently on one self */

/* create() flags. */
#define FLX_CREATE_DRY_RUN 1u /* validate the config only: load nothing heavy */

/* Operator settings (since 1.2). A factory may declare keys of its YAML `config:` that an
 * operator can also set from the environment or, for pipelines, from `fluxserve generate`'s
 * flags. The host applies them without knowing the plugin: an environment variable that is
 * set and not empty replaces the key in the config of every stage made by the factory (the
 * environment wins over the YAML); a flag sets the key of the stage `fluxserve generate`
 * builds (a flag wins over the environment). The stage parses the value as it parses the
 * YAML. */
typedef enum flx_setting_type {
  FLX_SETTING_STRING = 0,
  FLX_SETTING_BOOL = 1,  /* the host writes 1/0, yes/no, on/off (any case) as true/false */
  FLX_SETTING_INT = 2,
  FLX_SETTING_NUMBER = 3,
  FLX_SETTING_BYTES = 4, /* a size such as 16GiB, or a word the stage documents (auto) */
  FLX_SETTING_TYPE_RANGE_ = 0x7FFFFFFF /* not a type: every int32 is a valid value (see flx_code) */
} flx_setting_type;

/* Setting flags. */
#define FLX_SETTING_REQUIRED 1u /* `fluxserve generate` refuses to run without its flag */

typedef struct flx_setting {
  size_t struct_size;
  const char* key;           /* the config key it sets, e.g. "dtype"; required; static */
  flx_setting_type type;
  const char* env;           /* e.g. "FLUX_DTYPE": [A-Z][A-Z0-9_]*, or NULL; static */
  const char* cli_flag;      /* e.g. "--dtype": "--" then [a-z0-9-], or NULL; static */
  const char* value_name;    /* the value in help, e.g. "D", or NULL; static */
  const char* help;          /* one line for --help and docs, or NULL; static */
  /* What `fluxserve generate` sets when the flag is not given (e.g. load "eager", warmup
   * "false": a one-shot run), or NULL to leave the key to the environment and the
   * defaults; static. */
  const char* oneshot_value;
  uint32_t flags;            /* FLX_SETTING_* */
} flx_setting;

typedef struct flx_factory {
  size_t struct_size;
  flx_kind kind;
  const char* type_name; /* the YAML `type:`; static */
  const char* version;   /* the factory's version, e.g. "1.2.0"; static */
  uint32_t flags;        /* FLX_FLAG_* */
  /* Creates an instance. `host` and `config` stay valid until destroy(self) returns.
   * Reads its settings from `config` and reports bad ones with config_error(). */
  flx_error* (*create)(const flx_host* host, const flx_config* config, uint32_t create_flags,
                       void** self);
  /* Destroys an instance: stops and joins its threads; never fails. Accepts NULL. */
  void (*destroy)(void* self);
  /* Points to the flx_<kind>_iface matching `kind`; static. */
  const void* iface;
  /* Since 1.2 (test with FLX_HAS_FIELD): the operator settings, a static array of
   * n_settings pointers (NULL when n_settings is 0). The host refuses to load a plugin whose
   * settings repeat a key, a variable or a flag, or break the spellings above. */
  size_t n_settings;
  const flx_setting* const* settings;
} flx_factory;

typedef struct flx_plugin_info {
  size_t struct_size;
  uint32_t abi_major; /* FLX_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor; /* FLX_ABI_MINOR the plugin was built with */
  const char* name;   /* static */
  const char* version; /* static */
  size_t n_factories;
  const flx_factory* const* factories; /* static array of n_factories pointers */
} flx_plugin_info;

/* The one exported symbol. Called once per load, before anything else, from one thread.
 * `api` lives until the library is unloaded. On success sets *info to a static table. */
typedef flx_error* (*flx_plugin_init_fn)(const flx_host_api* api, const flx_plugin_info** info);
#define FLX_PLUGIN_INIT_SYMBOL "flx_plugin_init"

FLX_EXPORT flx_error* flx_plugin_init(const flx_host_api* api, const flx_plugin_info** info);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLX_FLX_H_ */
