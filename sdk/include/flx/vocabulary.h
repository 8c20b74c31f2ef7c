/*
 * vocabulary.h — the names stages share across the plugin boundary (C99).
 *
 * flx.h defines how stages talk; this header defines the words they use: the knobs a
 * request's overrides set for one try, the phases a pipeline times and the gauges a stage
 * reports. A policy, a pipeline and an observer that use these names understand each other
 * without knowing each other. Append-only within ABI 1.x: a name is never renamed or given
 * another meaning; new names may be added. C++ plugins parse knobs with flx/knobs.hpp.
 */
#ifndef FLX_VOCABULARY_H_
#define FLX_VOCABULARY_H_

/* ---------------------------------------------------------------------------------------
 * Knobs: keys of flx_request.overrides, set for one try by a recovery stage (or in force
 * from the first try). Values are strings. A pipeline applies the knobs it implements,
 * ignores the others, refuses a malformed value of one it implements with
 * FLX_INVALID_ARGUMENT (detail "param" = the key), and reports what it used through
 * result_set_param under the same key, so the client sees the parameters it really got.
 * ------------------------------------------------------------------------------------- */

/* Absolute values, replacing the request's. Decimal integers >= 1; a pipeline rounds a side
 * down to its size multiple (at least one multiple), because whoever set it cannot know it. */
#define FLX_KNOB_STEPS "steps"
#define FLX_KNOB_WIDTH "width"
#define FLX_KNOB_HEIGHT "height"

/* The largest width or height a request may carry anywhere in fluxserve (since 1.2): the host
 * refuses larger sizes before any pipeline sees them; a pipeline may refuse more (the flux
 * pipeline's max_pixels bounds the area). */
#define FLX_MAX_IMAGE_SIDE 8192

/* Relative values: the policy does not know the pipeline's defaults. Factors are decimals in
 * (0, 1]; bounds decimal integers >= 1. Cumulative: a second halving rung reads "0.5" from the
 * request's overrides and sends "0.25". With `multiple` the pipeline's size multiple:
 *   steps = min(steps, max(min_steps or 1, round(steps * steps_factor)))
 *   side  = min(side, max(lower, floor(side * resolution_factor / multiple) * multiple))
 *           where lower = min_side rounded up to a multiple, or one multiple
 * so scaling never raises a value the request already had below the bound
 * (flx::scale_steps, flx::scale_side). */
#define FLX_KNOB_STEPS_FACTOR "steps_factor"
#define FLX_KNOB_MIN_STEPS "min_steps"
#define FLX_KNOB_RESOLUTION_FACTOR "resolution_factor"
#define FLX_KNOB_MIN_SIDE "min_side"

/* Memory-for-speed trades. */
#define FLX_KNOB_EMPTY_CACHE "empty_cache"             /* "true"|"false": free cached device
                                                          memory before the try */
#define FLX_KNOB_ATTENTION_SLICING "attention_slicing" /* "off"|"auto"|"max"|"<N>": compute
                                                          attention in slices */
#define FLX_KNOB_VAE_TILING "vae_tiling"               /* "true"|"false": decode tile by tile */
#define FLX_KNOB_VAE_SLICING "vae_slicing"             /* "true"|"false": decode the batch one
                                                          image at a time */
#define FLX_KNOB_OFFLOAD "offload"                     /* "none"|"model"|"sequential": move
                                                          weights off the device when idle */
#define FLX_KNOB_DTYPE "dtype"                         /* "float32"|"float16"|"bfloat16":
                                                          the compute dtype */

/* Spellings of the boolean knob values. */
#define FLX_KNOB_TRUE "true"
#define FLX_KNOB_FALSE "false"

/* ---------------------------------------------------------------------------------------
 * Phases: FLX_EVENT_PHASE names (value = seconds the phase took in this try).
 * ------------------------------------------------------------------------------------- */
#define FLX_PHASE_LOAD "load"                /* pipeline: weights loaded inside this call */
#define FLX_PHASE_TOKENIZE "tokenize"        /* pipeline: prompt -> token ids */
#define FLX_PHASE_TEXT_ENCODE "text_encode"  /* pipeline: token ids -> embeddings */
#define FLX_PHASE_DENOISE "denoise"          /* pipeline: the sampling loop, per image */
#define FLX_PHASE_VAE_DECODE "vae_decode"    /* pipeline: latents -> pixels, per image */
#define FLX_PHASE_IMAGE_ENCODE "image_encode" /* host: pixels -> PNG/JPEG */
#define FLX_PHASE_SAVE "save"                /* host: files written for URL responses */

/* ---------------------------------------------------------------------------------------
 * Gauges: FLX_EVENT_GAUGE names (value = the new level).
 * ------------------------------------------------------------------------------------- */
#define FLX_GAUGE_QUEUE_DEPTH "queue_depth"     /* scheduler: requests waiting */
#define FLX_GAUGE_IN_FLIGHT "in_flight"         /* scheduler: requests running */
#define FLX_GAUGE_MODEL_READY "model_ready"     /* host: 1 when the stage can serve, else 0 */
#define FLX_GAUGE_WEIGHTS_BYTES "weights_bytes" /* pipeline: bytes its loaded weights hold */
/* queue (ABI 1.3): jobs of the event's model waiting in the shared queue, for every replica
 * (what an autoscaler scales on) */
#define FLX_GAUGE_SHARED_QUEUE_WAITING "shared_queue_waiting"

/* The last event of a job's events in a queue stage (flx_queue_iface.read_events, ABI 1.3),
 * appended once its record has ended. */
#define FLX_QUEUE_ENDED_EVENT "flx.ended"

/* The request field of LoRA adapters (flx_request.loras, ABI 1.4): also the result parameter
 * a pipeline reports them under ("name:scale,...") and the "param" detail of its errors. */
#define FLX_PARAM_LORA "lora"

#endif /* FLX_VOCABULARY_H_ */
