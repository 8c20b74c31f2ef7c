#include "http/edit_request.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>

#include <cmath>
#include <memory>
#include <set>
#include <sstream>

#include "http/json_writer.h"
#include "image_decoder.h"

namespace flx {
namespace {

constexpr size_t kMaxFields = 64;

// Fields whose text is a JSON number in a generation's body, and those that may be booleans.
const std::set<std::string> kNumberFields = {"n",
                                             "seed",
                                             "steps",
                                             "guidance",
                                             "guidance_scale",
                                             "strength",
                                             "width",
                                             "height",
                                             "output_compression",
                                             "partial_images",
                                             "timeout_s",
                                             "max_sequence_length"};
const std::set<std::string> kBooleanFields = {"stream", "background"};
// Fields whose text is JSON (a form cannot nest): `lora` as [{"name": ..., "scale": ...}].
const std::set<std::string> kJsonFields = {FLX_PARAM_LORA};

// Collects the file parts, by field name.
class FilePartCollector : public Poco::Net::PartHandler {
 public:
  void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
    std::string disposition;
    Poco::Net::NameValueCollection parameters;
    Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition", ""), disposition,
                                              parameters);
    std::string name = parameters.get("name", "");
    if (name == "image[]") name = "image";
    std::string bytes;
    Poco::StreamCopier::copyToString(stream, bytes);
    files[name].push_back(std::move(bytes));
  }
  std::map<std::string, std::vector<std::string>> files;
};

bool IsJson(const std::string& text) {
  try {
    Poco::JSON::Parser().parse(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool IsJsonNumber(const std::string& text) {
  double value = 0;
  return !text.empty() && Poco::NumberParser::tryParseFloat(text, value) && std::isfinite(value);
}

std::string FieldsAsJson(const std::map<std::string, std::string>& fields) {
  JsonWriter w;
  w.BeginObject();
  for (const auto& [key, value] : fields) {
    w.Key(key);
    if (kNumberFields.count(key) && IsJsonNumber(value)) {
      w.Raw(value);
    } else if (kJsonFields.count(key) && IsJson(value)) {
      w.Raw(value);
    } else if (kBooleanFields.count(key) && (value == "true" || value == "false")) {
      w.Bool(value == "true");
    } else {
      w.String(value);
    }
  }
  w.EndObject();
  return w.Take();
}

std::variant<double, ApiError> ReadStrength(const std::map<std::string, std::string>& fields) {
  const auto it = fields.find("strength");
  if (it == fields.end()) return std::nan("");
  double strength = 0;
  if (!Poco::NumberParser::tryParseFloat(it->second, strength) || !(strength > 0) || strength > 1) {
    return BadRequest(
        "'strength' must be a number in (0, 1], got \"" + it->second.substr(0, 40) + "\"",
        "strength");
  }
  return strength;
}

// The single file `name`, or nullptr; a 400 when there are several.
std::variant<const std::string*, ApiError> OneFile(const EditForm& form, const std::string& name) {
  const auto it = form.files.find(name);
  if (it == form.files.end() || it->second.empty()) return static_cast<const std::string*>(nullptr);
  if (it->second.size() > 1) {
    return BadRequest("send one '" + name + "' file; FLUX edits one image at a time (got " +
                          std::to_string(it->second.size()) + ")",
                      name);
  }
  return &it->second.front();
}

// The area to repaint, gray with 255 = repaint, from an image's alpha: transparent = repaint.
std::vector<uint8_t> RepaintFromAlpha(const DecodedImage& image) {
  std::vector<uint8_t> gray(size_t{image.width} * image.height);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(255 - image.rgba[i * 4 + 3]);
  return gray;
}

bool AnyTransparent(const DecodedImage& image) {
  for (size_t i = 3; i < image.rgba.size(); i += 4) {
    if (image.rgba[i] != 255) return true;
  }
  return false;
}

std::variant<EditInput, ApiError> DecodeEdit(const std::string& image_bytes,
                                             const std::string* mask_bytes) {
  StatusOr<DecodedImage> image = DecodeImage(image_bytes, "image", RequestLimits::kMaxSide);
  if (!image.ok()) return BadRequest(image.status().message(), "image", "invalid_image");
  EditInput edit;
  edit.width = image->width;
  edit.height = image->height;
  edit.rgb.resize(size_t{edit.width} * edit.height * 3);
  for (size_t i = 0, n = size_t{edit.width} * edit.height; i < n; ++i) {
    for (int c = 0; c < 3; ++c) edit.rgb[i * 3 + c] = image->rgba[i * 4 + c];
  }
  if (mask_bytes == nullptr) {
    if (image->has_alpha && AnyTransparent(*image)) edit.mask = RepaintFromAlpha(*image);
    return edit;
  }
  StatusOr<DecodedImage> mask = DecodeImage(*mask_bytes, "mask", RequestLimits::kMaxSide);
  if (!mask.ok()) return BadRequest(mask.status().message(), "mask", "invalid_image");
  if (mask->width != image->width || mask->height != image->height) {
    return BadRequest("'mask' is " + std::to_string(mask->width) + "x" +
                          std::to_string(mask->height) + " but 'image' is " +
                          std::to_string(image->width) + "x" + std::to_string(image->height) +
                          "; they must be the same size",
                      "mask", "invalid_image");
  }
  if (!mask->has_alpha) {
    return BadRequest(
        "'mask' has no alpha channel: its fully transparent pixels mark the area "
        "to edit (a PNG with transparency, as OpenAI's edits take)",
        "mask", "invalid_image");
  }
  edit.mask = RepaintFromAlpha(*mask);
  return edit;
}

}  // namespace

std::variant<EditForm, ApiError> ParseEditForm(const std::string& content_type,
                                               const std::string& body) {
  if (content_type.rfind("multipart/form-data", 0) != 0) {
    return BadRequest(
        "POST /v1/images/edits takes multipart/form-data (the image as a file "
        "part), got Content-Type \"" +
            content_type.substr(0, 80) + "\"",
        "", "invalid_content_type");
  }
  EditForm form;
  try {
    Poco::Net::HTMLForm html;
    html.setFieldLimit(static_cast<int>(kMaxFields));
    FilePartCollector files;
    Poco::Net::HTTPRequest header("POST", "/v1/images/edits");
    header.setContentType(content_type);
    std::istringstream in(body);
    html.load(header, in, files);
    for (const auto& [key, value] : html) form.fields[key] = value;
    form.files = std::move(files.files);
  } catch (const Poco::Exception& e) {
    return BadRequest("the multipart body cannot be read: " + e.displayText(), "",
                      "invalid_multipart");
  }
  form.json = FieldsAsJson(form.fields);
  return form;
}

std::variant<ImagesRequest, ApiError> ParseEditRequest(const EditForm& form) {
  auto strength = ReadStrength(form.fields);
  if (auto* error = std::get_if<ApiError>(&strength)) return *error;
  auto image = OneFile(form, "image");
  if (auto* error = std::get_if<ApiError>(&image)) return *error;
  if (std::get<const std::string*>(image) == nullptr) {
    return BadRequest("'image' is required: the image to edit, as a file part", "image",
                      "missing_required_parameter");
  }
  auto mask = OneFile(form, "mask");
  if (auto* error = std::get_if<ApiError>(&mask)) return *error;
  std::map<std::string, std::string> fields = form.fields;
  fields.erase("strength");  // an edit's own field: not one a generation body takes
  auto parsed = ParseImagesRequest(FieldsAsJson(fields));
  if (auto* error = std::get_if<ApiError>(&parsed)) return *error;
  ImagesRequest request = std::get<ImagesRequest>(parsed);
  auto edit = DecodeEdit(*std::get<const std::string*>(image), std::get<const std::string*>(mask));
  if (auto* error = std::get_if<ApiError>(&edit)) return *error;
  std::get<EditInput>(edit).strength = static_cast<float>(std::get<double>(strength));
  request.input.edit = std::make_shared<const EditInput>(std::move(std::get<EditInput>(edit)));
  return request;
}

}  // namespace flx
