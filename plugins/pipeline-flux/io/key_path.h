// key_path.h — splitting dotted state-dict keys ("double_blocks.3.img_attn.qkv.weight") for
// the checkpoint key mappings.
#ifndef FLX_FLUX_IO_KEY_PATH_H_
#define FLX_FLUX_IO_KEY_PATH_H_

#include <optional>
#include <string>
#include <vector>

namespace flx::flux {

// The dot-separated components of `key` ("a..b" yields an empty middle component).
std::vector<std::string> split_key(const std::string& key);

// `parts[first, last)` joined with dots.
std::string join_key(const std::vector<std::string>& parts, size_t first, size_t last);

// The value of a block index component: decimal digits without a sign or leading zero
// (except "0"), at most 9 digits; nullopt otherwise.
std::optional<int> parse_block_index(const std::string& component);

}  // namespace flx::flux

#endif  // FLX_FLUX_IO_KEY_PATH_H_
