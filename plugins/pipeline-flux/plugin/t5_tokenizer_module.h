/* t5_tokenizer_module.h — the C interface of flx_flux_t5_tokenizer.so, a module that holds
 * io's T5Tokenizer and with it libsentencepiece.
 *
 * Why a separate module: Debian's libsentencepiece carries its own copy of protobuf-lite
 * 3.14 and exports its symbols, while libtorch loads the system libprotobuf 3.21. In one
 * symbol scope each binds to the other's copy (the plugin crashes while loading, or
 * sentencepiece refuses the mixed runtime). The plugin therefore never links sentencepiece;
 * it dlopen()s this module with RTLD_LOCAL, which gives sentencepiece a scope without libtorch.
 *
 * All functions are thread-safe on distinct handles and encode() also on one handle. Strings
 * are UTF-8 and borrowed for the call. On failure a NUL-terminated message (truncated to
 * error_size bytes) is written to `error`. */
#ifndef FLX_FLUX_PLUGIN_T5_TOKENIZER_MODULE_H_
#define FLX_FLUX_PLUGIN_T5_TOKENIZER_MODULE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flx_t5_tokenizer flx_t5_tokenizer;

/* Loads `dir`/spiece.model and `dir`/tokenizer_config.json (T5Tokenizer::load). Returns NULL
 * on failure. The caller frees the handle with flx_t5_tokenizer_close. */
typedef flx_t5_tokenizer* (*flx_t5_tokenizer_open_fn)(const char* dir, char* error,
                                                      size_t error_size);
/* Writes exactly `max_length` ids (T5Tokenizer::encode) to `ids`. Returns 0 on success. */
typedef int (*flx_t5_tokenizer_encode_fn)(const flx_t5_tokenizer* tokenizer, const char* text,
                                          size_t max_length, int32_t* ids, char* error,
                                          size_t error_size);
/* Frees a handle; accepts NULL. */
typedef void (*flx_t5_tokenizer_close_fn)(flx_t5_tokenizer* tokenizer);

#define FLX_T5_TOKENIZER_MODULE "flx_flux_t5_tokenizer.so"
#define FLX_T5_TOKENIZER_OPEN "flx_t5_tokenizer_open"
#define FLX_T5_TOKENIZER_ENCODE "flx_t5_tokenizer_encode"
#define FLX_T5_TOKENIZER_CLOSE "flx_t5_tokenizer_close"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLX_FLUX_PLUGIN_T5_TOKENIZER_MODULE_H_ */
