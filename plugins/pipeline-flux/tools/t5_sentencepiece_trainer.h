// t5_sentencepiece_trainer.h — trains a SentencePiece unigram model with T5's special ids
// (<pad> 0, </s> 1, <unk> 2, no <s>) using libsentencepiece's own trainer, so the demo model's
// second tokenizer is a real spiece.model that io's T5Tokenizer loads like FLUX.1's.
#ifndef FLX_FLUX_TOOLS_T5_SENTENCEPIECE_TRAINER_H_
#define FLX_FLUX_TOOLS_T5_SENTENCEPIECE_TRAINER_H_

#include <string>
#include <vector>

namespace flx::flux::demo {

// The serialized model proto (the bytes of spiece.model) trained on `sentences` with NFKC
// normalisation (nmt_nfkc, T5's rule), full character coverage and at most `vocab_size` pieces
// (fewer when the text cannot support that many). Single-threaded, so the result depends only
// on the input. Throws std::runtime_error with the trainer's message on failure.
std::string train_t5_sentencepiece(const std::vector<std::string>& sentences, int vocab_size);

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_T5_SENTENCEPIECE_TRAINER_H_
