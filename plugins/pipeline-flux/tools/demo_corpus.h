// demo_corpus.h — the English text the demo model's tokenizers are trained on. It is ours
// (written for this project, plain ASCII, one sentence per entry) and reads like the prompts
// people send to an image model, so common prompt words become single tokens.
#ifndef FLX_FLUX_TOOLS_DEMO_CORPUS_H_
#define FLX_FLUX_TOOLS_DEMO_CORPUS_H_

#include <string>
#include <vector>

namespace flx::flux::demo {

// The sentences, in a fixed order (training is deterministic given the order).
const std::vector<std::string>& demo_corpus();

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_CORPUS_H_
