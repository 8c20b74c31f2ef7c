// edit_input.h — an edit request (flx_request.init_image, mask, strength; ABI 1.3) made ready
// for the FLUX pipeline: the output size an edit defaults to, and the image and mask resampled
// to the output size. Torch-free.
//
// Resampling: diffusers resizes with PIL's Lanczos filter; this is a separable Lanczos-3 in
// float (widened when shrinking, as PIL does), so an image that already has the output size
// is passed through untouched and gives diffusers' image, while a resized one can differ from
// PIL's fixed-point arithmetic in the last bit of some pixels. The mask is resampled the same
// way and thresholded later (>= 128 = repaint).
#ifndef FLX_FLUX_PLUGIN_EDIT_INPUT_H_
#define FLX_FLUX_PLUGIN_EDIT_INPUT_H_

#include <flx/flx.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace flx::flux {

struct EditImages;

// The request's init image, or nullptr (text-to-image, or a host older than ABI 1.3).
const flx_image* edit_image(const flx_request& request);

// An edit's default size: the image's, each side rounded down to `multiple` (diffusers' rule for
// the sizes it is given); throws flx::Error INVALID_ARGUMENT (param "image") for an image smaller
// than `multiple`.
void edit_default_size(const flx_image& image, int64_t multiple, int64_t* width, int64_t* height);

// `image` (1, 3 or 4 channels; the first `out_channels` are used, gray repeated) at
// width x height, `out_channels` bytes per pixel.
std::vector<uint8_t> resample(const flx_image& image, int64_t width, int64_t height,
                              int out_channels);

// The edit of `request` at width x height: image as RGB, mask as gray, strength (NaN: 0.6,
// diffusers' default; outside (0, 1]: flx::Error INVALID_ARGUMENT, param "strength").
std::shared_ptr<const EditImages> edit_images(const flx_request& request, int64_t width,
                                              int64_t height);

}  // namespace flx::flux

#endif  // FLX_FLUX_PLUGIN_EDIT_INPUT_H_
