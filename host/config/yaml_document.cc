#include "config/yaml_document.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace flx {
namespace {

// Remembers where a document starts; the second document's events are otherwise dropped.
class DocumentStartRecorder : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  const YAML::Mark& start() const { return start_; }

 private:
  YAML::Mark start_ = YAML::Mark::null_mark();
};

}  // namespace

SingleDocument LoadSingleDocument(const std::string& yaml_text) {
  SingleDocument document;
  document.root = YAML::Load(yaml_text);  // the first document only; it always returns

  std::istringstream stream(yaml_text);
  YAML::Parser parser(stream);
  DocumentStartRecorder recorder;
  if (!parser.HandleNextDocument(recorder)) return document;  // empty stream
  if (parser.HandleNextDocument(recorder)) document.trailing_content = recorder.start();
  return document;
}

}  // namespace flx
