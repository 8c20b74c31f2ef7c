// "Did you mean ...?" hints for misspelled keys, kinds and ids.
#ifndef FLX_HOST_CONFIG_SUGGEST_H_
#define FLX_HOST_CONFIG_SUGGEST_H_

#include <string>
#include <vector>

namespace flx {

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions
// and swaps of adjacent letters, ignoring case), or "" when none is close enough to be a
// plausible typo: at most 1 edit for words up to 5 letters, at most 2 beyond. Ties go to the
// earlier candidate.
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" for the closest match, or "" when there is none; ready to append
// to a message.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace flx

#endif  // FLX_HOST_CONFIG_SUGGEST_H_
