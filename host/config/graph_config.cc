#include "config/graph_config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "config/document_preparation.h"
#include "config/graph_schema.h"
#include "config/yaml_characters.h"
#include "config/yaml_document.h"
#include "config/yaml_node.h"

namespace flx {
namespace {

std::string AbsoluteDirectoryOf(const std::string& file) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(file, ec);
  if (ec) absolute = std::filesystem::path(file);
  return absolute.lexically_normal().parent_path().string();
}

SourceLocation LocationOfMark(const YAML::Mark& mark, const std::string& file) {
  if (mark.is_null()) return SourceLocation{file, 0, 0};
  return SourceLocation{file, mark.line + 1, mark.column + 1};
}

// Why the parser found more than one document at `mark`: usually a second '---' document;
// otherwise a token it could not place in the first (yaml-cpp reports a stray ',' this way).
std::string DescribeTrailingContent(const std::string& yaml_text, const YAML::Mark& mark) {
  const size_t at = mark.pos < 0 ? 0 : static_cast<size_t>(mark.pos);
  if (yaml_text.compare(at, 3, "---") == 0) {
    return "expected one YAML document, found a second one";
  }
  if (at < yaml_text.size() && yaml_text[at] == ',') {
    return "unexpected ',' outside a flow collection ([ ] or { })";
  }
  return "expected one YAML document; content continues after the first one";
}

// Parses and checks the document, adding every problem to `diags`.
void ReadDocument(const std::string& yaml_text, const Environment& env, GraphConfig* config,
                  Diagnostics* diags) {
  const std::string& file = config->file;
  if (std::optional<CharacterProblem> problem = FindNonPrintableCharacter(yaml_text)) {
    diags->Error(SourceLocation{file, problem->line, problem->column}, "", problem->message);
    return;
  }
  SingleDocument document;
  try {
    document = LoadSingleDocument(yaml_text);
  } catch (const YAML::Exception& e) {
    diags->Error(LocationOfMark(e.mark, file), "", "syntax error: " + e.msg);
    return;
  }
  if (document.trailing_content) {
    SourceLocation location = LocationOfMark(*document.trailing_content, file);
    if (location.line == 0) location = SourceLocation{file, 1, 1};
    diags->Error(location, "", DescribeTrailingContent(yaml_text, *document.trailing_content));
    return;
  }
  YAML::Node root = document.root;
  if (!root.IsMap()) {
    SourceLocation location = LocationOf(root, file);
    if (location.line == 0) location = SourceLocation{file, 1, 1};
    diags->Error(location, "",
                 root.IsNull() ? "the file is empty; expected a map with version, stages and "
                                 "models"
                               : "expected a map at the top level, got " + DescribeNode(root));
    return;
  }
  std::set<std::string> failed_expansions = PrepareDocument(root, file, env, diags);
  ValidateGraph(root, failed_expansions, config, diags);
}

}  // namespace

const char* ModelLoadName(ModelLoad load) {
  switch (load) {
    case ModelLoad::kLazy: return "lazy";
    case ModelLoad::kManual: return "manual";
    case ModelLoad::kEager: break;
  }
  return "eager";
}

ModelLoad ParseModelLoad(const std::string& word) {
  if (word == "lazy") return ModelLoad::kLazy;
  if (word == "manual") return ModelLoad::kManual;
  return ModelLoad::kEager;
}

const StageConfig* GraphConfig::FindStage(const std::string& id) const {
  for (const StageConfig& stage : stages) {
    if (stage.id == id) return &stage;
  }
  return nullptr;
}

StatusOr<GraphConfig> LoadGraphConfig(const std::string& path, const Environment& env,
                                      Diagnostics* diags) {
  std::error_code ec;
  const bool is_directory = std::filesystem::is_directory(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!in || is_directory) {
    std::string why = std::string("cannot read the configuration file: ") +
                      std::strerror(is_directory ? EISDIR : errno);
    if (diags != nullptr) diags->Error(SourceLocation{path, 0, 0}, "", why);
    return NotFound(path + ": " + why);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseGraphConfig(text.str(), path, env, diags);
}

StatusOr<GraphConfig> ParseGraphConfig(const std::string& yaml_text, const std::string& file_name,
                                       const Environment& env, Diagnostics* diags) {
  Diagnostics own;
  if (diags == nullptr) diags = &own;
  GraphConfig config;
  config.file = file_name;
  config.base_dir = AbsoluteDirectoryOf(file_name);
  Diagnostics found;
  ReadDocument(yaml_text, env, &config, &found);
  found.SortByLocation();
  diags->Append(found);
  if (diags->has_errors()) return InvalidArgument(diags->ToString());
  return config;
}

}  // namespace flx
