#include "t5_sentencepiece_trainer.h"

#include <sentencepiece_trainer.h>

#include <stdexcept>
#include <unordered_map>

namespace flx::flux::demo {
namespace {

class VectorSentences : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentences(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  size_t index_ = 0;
};

}  // namespace

std::string train_t5_sentencepiece(const std::vector<std::string>& sentences, int vocab_size) {
  const std::unordered_map<std::string, std::string> options = {
      {"model_type", "unigram"},
      {"vocab_size", std::to_string(vocab_size)},
      {"hard_vocab_limit", "false"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "nmt_nfkc"},
      {"pad_id", "0"},
      {"eos_id", "1"},
      {"unk_id", "2"},
      {"bos_id", "-1"},
      {"num_threads", "1"},
      // The trainer logs every EM round to stderr at INFO; warnings and errors still show.
      {"minloglevel", "1"},
  };
  sentencepiece::SetRandomGeneratorSeed(0);
  VectorSentences iterator(sentences);
  std::string model;
  const sentencepiece::util::Status status =
      sentencepiece::SentencePieceTrainer::Train(options, &iterator, &model);
  if (!status.ok()) {
    throw std::runtime_error("training the SentencePiece model failed: " + status.ToString());
  }
  return model;
}

}  // namespace flx::flux::demo
