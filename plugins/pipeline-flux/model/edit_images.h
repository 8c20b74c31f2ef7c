// edit_images.h — an edit's input as the FLUX pipeline takes it (torch-free, so the plugin's
// request handling builds it without libtorch): see image_edit.h for what is done with it.
#ifndef FLX_FLUX_MODEL_EDIT_IMAGES_H_
#define FLX_FLUX_MODEL_EDIT_IMAGES_H_

#include <cstdint>
#include <vector>

namespace flx::flux {

// An edit's input at the output size (the caller resizes): RGB bytes (width * height * 3),
// the area to repaint (width * height, >= 128 = repaint; empty = image-to-image) and the
// strength in (0, 1] (a double, as diffusers' Python float: the first step depends on it).
struct EditImages {
  std::vector<uint8_t> rgb;
  std::vector<uint8_t> mask;
  double strength = 0.6;
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_EDIT_IMAGES_H_
