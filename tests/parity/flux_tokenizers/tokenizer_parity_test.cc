// Token-id parity with the reference FluxPipeline: for every golden case, our CLIP and T5 ids
// must equal clip_input_ids.bin and t5_input_ids.bin exactly.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "io/clip_tokenizer.h"
#include "io/t5_tokenizer.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) ADD_FAILURE() << "cannot read " << path;
  return bytes.str();
}

Object::Ptr parse_object(const std::string& path) {
  Poco::JSON::Parser parser;
  return parser.parse(read_file(path)).extract<Object::Ptr>();
}

// A golden int32 array NAME.bin, checked against its NAME.json sidecar.
std::vector<int32_t> read_ids(const std::string& case_dir, const std::string& name) {
  const Object::Ptr sidecar = parse_object(case_dir + "/" + name + ".json");
  EXPECT_EQ(sidecar->getValue<std::string>("dtype"), "int32") << name;
  size_t count = 1;
  const Array::Ptr shape = sidecar->getArray("shape");
  for (size_t i = 0; i < shape->size(); ++i) count *= shape->getElement<size_t>(i);
  const std::string bytes = read_file(case_dir + "/" + name + ".bin");
  EXPECT_EQ(bytes.size(), count * sizeof(int32_t)) << name;
  std::vector<int32_t> ids(bytes.size() / sizeof(int32_t));
  std::memcpy(ids.data(), bytes.data(), ids.size() * sizeof(int32_t));
  return ids;
}

std::string first_difference(const std::vector<int32_t>& ours, const std::vector<int32_t>& golden) {
  for (size_t i = 0; i < std::min(ours.size(), golden.size()); ++i) {
    if (ours[i] != golden[i]) {
      return "first difference at " + std::to_string(i) + ": ours " + std::to_string(ours[i]) +
             ", golden " + std::to_string(golden[i]);
    }
  }
  return "lengths " + std::to_string(ours.size()) + " vs " + std::to_string(golden.size());
}

TEST(TokenizerParity, EveryGoldenCaseMatchesTheReferenceIds) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const ClipTokenizer clip = ClipTokenizer::load(model_dir + "/tokenizer");
  const T5Tokenizer t5 = T5Tokenizer::load(model_dir + "/tokenizer_2");
  const Array::Ptr cases = parse_object(model_dir + "/cases/cases.json")->getArray("cases");
  ASSERT_FALSE(cases.isNull());
  ASSERT_GE(cases->size(), 2u);
  for (size_t i = 0; i < cases->size(); ++i) {
    const Object::Ptr golden_case = cases->getObject(i);
    const std::string name = golden_case->getValue<std::string>("name");
    SCOPED_TRACE(name);
    const std::string case_dir =
        model_dir + "/cases/" + golden_case->getValue<std::string>("folder");
    const Object::Ptr call = golden_case->getObject("pipeline_call");
    const std::string prompt = call->getValue<std::string>("prompt");
    // FluxPipeline: prompt_2 defaults to prompt; CLIP gets prompt, T5 gets prompt_2.
    const std::string prompt_2 =
        call->isNull("prompt_2") ? prompt : call->getValue<std::string>("prompt_2");
    const size_t max_sequence_length = call->getValue<size_t>("max_sequence_length");

    const std::vector<int32_t> clip_golden = read_ids(case_dir, "clip_input_ids");
    const std::vector<int32_t> clip_ours = clip.encode(prompt);
    EXPECT_EQ(clip_ours, clip_golden) << "CLIP: " << first_difference(clip_ours, clip_golden);

    const std::vector<int32_t> t5_golden = read_ids(case_dir, "t5_input_ids");
    const std::vector<int32_t> t5_ours = t5.encode(prompt_2, max_sequence_length);
    EXPECT_EQ(t5_ours, t5_golden) << "T5: " << first_difference(t5_ours, t5_golden);
  }
}

}  // namespace
}  // namespace flx::flux
