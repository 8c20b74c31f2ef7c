// The fluxserve executable as an operator runs it: serve (listen precedence, .env, port file,
// SIGTERM), check-config exit codes, --version/--help, and unknown commands.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/redis_server.h"
#include "support/temp_dir.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Binary() { return Env("FLX_BIN_DIR") + "/fluxserve"; }

using flx::test::TempDir;

struct Child {
  pid_t pid = -1;
  std::string output_path;
};

// Starts `args` with `extra_env` added, stdout+stderr to a file.
Child Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
            const std::string& output_path, const std::string& cwd = "") {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_copy = args;
  for (auto& s : args_copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  Child child;
  child.output_path = output_path;
  int rc = posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "cannot start " << args[0];
  return child;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Wait(const Child& child, double seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r == child.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(child.pid, SIGKILL);
  ::waitpid(child.pid, &status, 0);
  ADD_FAILURE() << "process did not exit in time; output:\n" << ReadFile(child.output_path);
  return -1;
}

// Runs to completion; returns exit code and output.
std::pair<int, std::string> RunToEnd(const std::vector<std::string>& args,
                                const std::vector<std::string>& env = {},
                                const std::string& cwd = "") {
  TempDir out;
  Child c = Spawn(args, env, out.path() + "/out.txt", cwd);
  int code = Wait(c);
  return {code, ReadFile(c.output_path)};
}

int HttpStatus(int port, const std::string& path) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", Poco::UInt16(port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
    return int(response.getStatus());
  } catch (const Poco::Exception&) {
    return 0;
  }
}

// A graph of one test pipeline; `more_stages` (YAML list items) go after it, `more` at the end.
std::string TestGraph(const std::string& listen, const std::string& more_stages = "",
                      const std::string& more = "") {
  return "version: 1\n"
         "server: {listen: \"" + listen + "\", output_dir: out}\n"
         "plugin_paths: [\"" + Env("FLX_PLUGIN_DIR") + "\"]\n"
         "stages:\n"
         "  - {id: p, kind: pipeline, library: flx_test_pipeline, type: test,\n"
         "     config: {delay_ms: \"${DELAY_FROM_DOTENV}\"}}\n" +
         more_stages +
         "models:\n"
         "  m: [p]\n" +
         more;
}

// Starts serve, waits for the port file, returns the port (0 on failure).
int StartServe(TempDir& dir, const std::vector<std::string>& extra_args,
               const std::vector<std::string>& env, Child* child) {
  std::string port_file = dir.path() + "/port";
  std::vector<std::string> args = {Binary(), "serve", "--config", dir.path() + "/graph.yaml",
                                   "--port-file", port_file};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  *child = Spawn(args, env, dir.path() + "/serve.log", dir.path());
  for (int i = 0; i < 3000; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    int status;
    if (::waitpid(child->pid, &status, WNOHANG) == child->pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "serve did not start:\n" << ReadFile(child->output_path);
  return 0;
}

// ../shared/golden: FLX_GOLDEN_DIR when set, else the folder CMake found beside the repo.
std::string GoldenDir() {
  const std::string given = Env("FLX_GOLDEN_DIR");
  return given.empty() ? Env("FLX_GOLDEN_DIR_DEFAULT") : given;
}

TEST(CliTest, VersionAndHelp) {
  auto [code, out] = RunToEnd({Binary(), "--version"});
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("fluxserve "), std::string::npos);
  EXPECT_NE(out.find("plugin ABI 1."), std::string::npos);
  for (const char* cmd : {"serve", "check-config", "generate"}) {
    auto [c, o] = RunToEnd({Binary(), cmd, "--help"});
    EXPECT_EQ(c, 0) << cmd;
    EXPECT_NE(o.find("usage: fluxserve"), std::string::npos) << cmd << ": " << o;
  }
  auto [bad, bad_out] = RunToEnd({Binary(), "frobnicate"});
  EXPECT_EQ(bad, 2);
  EXPECT_NE(bad_out.find("unknown command 'frobnicate'"), std::string::npos) << bad_out;
  auto [flag, flag_out] = RunToEnd({Binary(), "serve", "--no-such-flag"});
  EXPECT_EQ(flag, 2);
  EXPECT_NE(flag_out.find("unknown option '--no-such-flag'"), std::string::npos) << flag_out;
}

TEST(CliTest, ServeUsesDotEnvFlagOverEnvOverYamlAndStopsOnSigterm) {
  TempDir dir;
  // The YAML's listen address is unusable: the server only starts if something overrides it.
  dir.write("graph.yaml", TestGraph("unusable.invalid:1"));
  dir.write(".env", "DELAY_FROM_DOTENV=0\n");
  Child child;
  int port = StartServe(dir, {"--listen", "127.0.0.1:0"}, {"FLUX_LISTEN=also.unusable.invalid:1"},
                        &child);
  ASSERT_GT(port, 0);
  EXPECT_EQ(HttpStatus(port, "/healthz"), 200);
  ::kill(child.pid, SIGTERM);
  EXPECT_EQ(Wait(child), 0) << ReadFile(child.output_path);
  std::string log = ReadFile(child.output_path);
  EXPECT_NE(log.find("received SIGTERM"), std::string::npos) << log;
  EXPECT_NE(log.find("plugins unloaded"), std::string::npos) << log;
}

// Polls the server's log until it holds `text` (10 s at most).
bool LogShows(const Child& child, const std::string& text) {
  for (int i = 0; i < 200; ++i) {
    if (ReadFile(child.output_path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(CliTest, SighupReloadsTheYamlAndABadOneLeavesTheServerAsItWas) {
  TempDir dir;
  dir.write("graph.yaml", TestGraph("127.0.0.1:0"));
  Child child;
  int port = StartServe(dir, {}, {"DELAY_FROM_DOTENV=0"}, &child);
  ASSERT_GT(port, 0);
  EXPECT_EQ(HttpStatus(port, "/v1/models/m2"), 404);

  // A model added, and a server setting that only a restart applies.
  dir.write("graph.yaml",
            TestGraph("127.0.0.1:1",
                      "  - {id: p2, kind: pipeline, library: flx_test_pipeline, type: test}\n",
                      "  m2: [p2]\n"));
  ::kill(child.pid, SIGHUP);
  ASSERT_TRUE(LogShows(child, "reloaded ")) << ReadFile(child.output_path);
  EXPECT_EQ(HttpStatus(port, "/v1/models/m2"), 200);
  EXPECT_EQ(HttpStatus(port, "/v1/models/m"), 200);
  std::string log = ReadFile(child.output_path);
  EXPECT_NE(log.find("models added [m2], removed [], changed [], unchanged [m]"), std::string::npos)
      << log;
  EXPECT_NE(log.find("server.listen changed; it applies at the next restart"), std::string::npos)
      << log;

  // A YAML with an error: refused with its location, the server goes on as it was.
  dir.write("graph.yaml", "version: 1\nstages: []\nmodels: {}\nbogus: 1\n");
  ::kill(child.pid, SIGHUP);
  ASSERT_TRUE(LogShows(child, "reload refused")) << ReadFile(child.output_path);
  log = ReadFile(child.output_path);
  EXPECT_NE(log.find("graph.yaml:4:1"), std::string::npos) << log;
  EXPECT_EQ(HttpStatus(port, "/v1/models/m2"), 200) << "the previous graph still serves";
  EXPECT_EQ(HttpStatus(port, "/readyz"), 200);
  ::kill(child.pid, SIGTERM);
  EXPECT_EQ(Wait(child), 0) << ReadFile(child.output_path);
}

TEST(CliTest, FluxListenWinsOverYaml) {
  TempDir dir;
  dir.write("graph.yaml", TestGraph("unusable.invalid:1"));
  Child child;
  int port = StartServe(dir, {}, {"FLUX_LISTEN=127.0.0.1:0", "DELAY_FROM_DOTENV=0"}, &child);
  ASSERT_GT(port, 0);
  EXPECT_EQ(HttpStatus(port, "/readyz"), 200);
  ::kill(child.pid, SIGINT);
  EXPECT_EQ(Wait(child), 0);
}

TEST(CliTest, ServeRefusesABadConfigWithLocatedErrors) {
  TempDir dir;
  dir.write("graph.yaml", "version: 1\nstages: []\nmodels: {}\nbogus: 1\n");
  auto [code, out] = RunToEnd({Binary(), "serve", "--config", dir.path() + "/graph.yaml"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("graph.yaml:4:1"), std::string::npos) << out;
}

TEST(CliTest, CheckConfigExitCodes) {
  TempDir dir;
  dir.write("good.yaml", TestGraph("127.0.0.1:0"));
  auto [ok, ok_out] = RunToEnd({Binary(), "check-config", dir.path() + "/good.yaml"},
                          {"DELAY_FROM_DOTENV=5"});
  EXPECT_EQ(ok, 0) << ok_out;
  EXPECT_NE(ok_out.find("OK"), std::string::npos) << ok_out;

  // Passes the schema, fails at plugin create: only the last layers find this.
  std::string bad_create = TestGraph("127.0.0.1:0");
  dir.write("bad_create.yaml", bad_create);
  auto [bc, bc_out] = RunToEnd({Binary(), "check-config", dir.path() + "/bad_create.yaml"},
                          {"DELAY_FROM_DOTENV=-5"});
  EXPECT_EQ(bc, 1) << bc_out;
  EXPECT_NE(bc_out.find("delay_ms"), std::string::npos) << bc_out;

  dir.write("bad_plugin.yaml",
            "version: 1\nstages:\n  - {id: p, kind: pipeline, library: no_such_lib, type: x}\n"
            "models: {m: [p]}\n");
  auto [bp, bp_out] = RunToEnd({Binary(), "check-config", dir.path() + "/bad_plugin.yaml"});
  EXPECT_EQ(bp, 1);
  EXPECT_NE(bp_out.find("bad_plugin.yaml:3:5"), std::string::npos) << bp_out;
  EXPECT_NE(bp_out.find("no_such_lib"), std::string::npos) << bp_out;

  auto [missing, missing_out] = RunToEnd({Binary(), "check-config", dir.path() + "/nope.yaml"});
  EXPECT_EQ(missing, 1);
}

// --connect also reaches the job queue's Redis: OK while it answers, 1 naming it when not.
TEST(CliTest, CheckConfigConnectReachesTheJobQueue) {
  TempDir dir;
  std::string why;
  auto redis = flx::test::RedisServer::Start(dir.path(), &why);
  ASSERT_NE(redis, nullptr) << why;
  dir.write("queue.yaml",
            TestGraph("127.0.0.1:0",
                      "  - {id: q, kind: queue, library: flx_queue_redis, type: redis,\n"
                      "     config: {url: \"" + redis->url() + "\", timeout_s: 1}}\n",
                      "job_queue: q\n"));
  auto [up, up_out] = RunToEnd({Binary(), "check-config", dir.path() + "/queue.yaml", "--connect"},
                               {"DELAY_FROM_DOTENV=5"});
  EXPECT_EQ(up, 0) << up_out;
  EXPECT_NE(up_out.find("job_queue 'q' answers"), std::string::npos) << up_out;
  redis->Stop();
  auto [offline, offline_out] = RunToEnd({Binary(), "check-config", dir.path() + "/queue.yaml"},
                                         {"DELAY_FROM_DOTENV=5"});
  EXPECT_EQ(offline, 0) << "without --connect nothing is reached: " << offline_out;
  auto [down, down_out] = RunToEnd(
      {Binary(), "check-config", dir.path() + "/queue.yaml", "--connect"}, {"DELAY_FROM_DOTENV=5"});
  EXPECT_EQ(down, 1) << down_out;
  EXPECT_NE(down_out.find(redis->url()), std::string::npos) << down_out;
}

// A warning is printed once, also when the same file has errors (it used to come twice).
TEST(CliTest, CheckConfigPrintsEachWarningOnce) {
  TempDir dir;
  dir.write("g.yaml", "version: 1\nstages:\n"
                      "  - {id: p, kind: pipeline, library: flx_test_pipeline, type: test}\n"
                      "  - {id: unused, kind: pipeline, library: flx_test_pipeline, type: test}\n"
                      "models: {m: [p]}\nbogus: 1\n");
  auto [code, out] = RunToEnd({Binary(), "check-config", dir.path() + "/g.yaml"});
  EXPECT_EQ(code, 1);
  const std::string warning = "stage 'unused' is not used by any model, observer or job_queue";
  const size_t first = out.find(warning);
  ASSERT_NE(first, std::string::npos) << out;
  EXPECT_EQ(out.find(warning, first + 1), std::string::npos) << out;
  EXPECT_NE(out.find("g.yaml:6:1: error: unknown key 'bogus'"), std::string::npos) << out;
}

// Booleans from the environment take 1/0 as well as true/false, yes/no, on/off.
TEST(CliTest, EnvironmentBooleansAcceptOneAndZero) {
  bool have_flux = fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so");
  if (!have_flux) GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch)";
  TempDir dir;
  auto [made, made_out] = RunToEnd({Binary(), "make-demo-model", dir.path() + "/demo"});
  ASSERT_EQ(made, 0) << made_out;
  const std::string config = Env("FLX_SOURCE_DIR") + "/configs/demo.yaml";
  for (const char* value : {"1", "0", "yes", "off"}) {
    auto [code, out] = RunToEnd({Binary(), "check-config", config},
                                {"FLUX_MODEL=" + dir.path() + "/demo",
                                 "FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR"),
                                 std::string("FLUX_WARMUP_ENABLE=") + value});
    EXPECT_EQ(code, 0) << value << ":\n" << out;
  }
  auto [bad, bad_out] = RunToEnd({Binary(), "check-config", config},
                                 {"FLUX_MODEL=" + dir.path() + "/demo",
                                  "FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR"),
                                  "FLUX_WARMUP_ENABLE=2"});
  EXPECT_EQ(bad, 1) << bad_out;
  EXPECT_NE(bad_out.find("warmup: expected a boolean (true/false, yes/no, on/off, 1/0), got '2'"),
            std::string::npos)
      << bad_out;
}

TEST(CliTest, ShippedConfigsPassCheckConfig) {
  // configs/*.yaml name real models; a dry run only needs their paths to resolve, so point
  // FLUX_MODEL at the demo model when the flux plugin is built, and skip files whose plugins
  // this build lacks.
  std::string source = Env("FLX_SOURCE_DIR");
  ASSERT_FALSE(source.empty());
  bool have_flux = fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so");
  if (!have_flux) GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch): configs need it";
  TempDir dir;
  auto [made, made_out] = RunToEnd({Binary(), "make-demo-model", dir.path() + "/demo"});
  ASSERT_EQ(made, 0) << made_out;
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(source + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    auto [code, out] = RunToEnd({Binary(), "check-config", entry.path().string()},
                           {"FLUX_MODEL=" + dir.path() + "/demo",
                            "FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
    EXPECT_EQ(code, 0) << entry.path() << ":\n" << out;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace

namespace {

TEST(CliTest, GenerateWritesThePngAndDumpsTheGoldenTensors) {
  if (!fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so")) {
    GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch)";
  }
  std::string golden = GoldenDir();
  golden += "/tiny-flux";
  if (!fs::exists(golden + "/model_index.json")) {
    GTEST_SKIP() << "golden checkpoint not found at " << golden
                 << " (set FLX_GOLDEN_DIR to the folder holding tiny-flux)";
  }
  TempDir dir;
  auto [code, out] = RunToEnd(
      {Binary(), "generate", "--model", golden, "--prompt",
       "a photo of a cat holding a sign that says hello world", "--width", "64", "--height", "64",
       "--steps", "4", "--seed", "0", "--dtype", "float32", "--out", dir.path() + "/cat.png",
       "--dump", dir.path() + "/dump"},
      {"FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
  ASSERT_EQ(code, 0) << out;
  std::string png = ReadFile(dir.path() + "/cat.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // The dump has the golden folder's file names with the same byte sizes (same shapes).
  for (const char* name : {"clip_input_ids", "t5_input_ids", "prompt_embeds",
                           "pooled_prompt_embeds", "initial_latents", "sigmas",
                           "step_noise_pred", "final_latents", "vae_decoded", "image"}) {
    std::string ours = dir.path() + "/dump/" + name + ".bin";
    std::string theirs = golden + "/cases/cat-64x64-4steps/" + name + ".bin";
    ASSERT_TRUE(fs::exists(ours)) << ours;
    EXPECT_TRUE(fs::exists(dir.path() + "/dump/" + name + ".json")) << name;
    EXPECT_EQ(fs::file_size(ours), fs::file_size(theirs)) << name;
  }
  // Token ids are exact.
  EXPECT_EQ(ReadFile(dir.path() + "/dump/clip_input_ids.bin"),
            ReadFile(golden + "/cases/cat-64x64-4steps/clip_input_ids.bin"));
  EXPECT_EQ(ReadFile(dir.path() + "/dump/t5_input_ids.bin"),
            ReadFile(golden + "/cases/cat-64x64-4steps/t5_input_ids.bin"));
  EXPECT_EQ(ReadFile(dir.path() + "/dump/initial_latents.bin"),
            ReadFile(golden + "/cases/cat-64x64-4steps/initial_latents.bin"));
}

// A safetensors file of float32 matrices, written by hand (this test links no flux code).
void WriteF32Safetensors(const std::string& path,
                         const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
  std::string header = "{";
  std::string data;
  for (const auto& [name, shape] : tensors) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    const size_t begin = data.size();
    for (int64_t i = 0; i < count; ++i) {
      const float value = static_cast<float>((i * 37 + name.size()) % 19) / 19.0f - 0.5f;
      data.append(reinterpret_cast<const char*>(&value), sizeof(value));
    }
    header += std::string(header.size() > 1 ? "," : "") + "\"" + name +
              "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(shape[0]) + "," +
              std::to_string(shape[1]) + "],\"data_offsets\":[" + std::to_string(begin) + "," +
              std::to_string(data.size()) + "]}";
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = header.size();
  out.write(reinterpret_cast<const char*>(&length), sizeof(length));
  out << header << data;
}

TEST(CliTest, GenerateAppliesLoraAdaptersFromTheLoraDir) {
  if (!fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so")) {
    GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch)";
  }
  std::string golden = GoldenDir();
  golden += "/tiny-flux";
  if (!fs::exists(golden + "/model_index.json")) {
    GTEST_SKIP() << "golden checkpoint not found at " << golden;
  }
  TempDir dir;
  // tiny-flux is 128 wide: a rank-2 adapter on the first block's query projection.
  WriteF32Safetensors(dir.path() + "/grain.safetensors",
                      {{"transformer.transformer_blocks.0.attn.to_q.lora_A.weight", {2, 128}},
                       {"transformer.transformer_blocks.0.attn.to_q.lora_B.weight", {128, 2}}});
  auto generate = [&](const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> args = {Binary(), "generate", "--model", golden, "--prompt", "a cat",
                                     "--width", "64", "--height", "64", "--steps", "2", "--seed",
                                     "1", "--dtype", "float32", "--lora-dir", dir.path(), "--out",
                                     dir.path() + "/" + out};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunToEnd(args, {"FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
  };
  auto [base_code, base_log] = generate({}, "base.png");
  ASSERT_EQ(base_code, 0) << base_log;
  auto [lora_code, lora_log] = generate({"--lora", "grain:3"}, "lora.png");
  ASSERT_EQ(lora_code, 0) << lora_log;
  auto [zero_code, zero_log] = generate({"--lora", "grain:0"}, "zero.png");
  ASSERT_EQ(zero_code, 0) << zero_log;
  EXPECT_NE(ReadFile(dir.path() + "/lora.png"), ReadFile(dir.path() + "/base.png"));
  EXPECT_EQ(ReadFile(dir.path() + "/zero.png"), ReadFile(dir.path() + "/base.png"))
      << "scale 0 is the base model";
  auto [missing_code, missing_log] = generate({"--lora", "nope"}, "nope.png");
  EXPECT_NE(missing_code, 0);
  EXPECT_NE(missing_log.find("unknown LoRA 'nope' (available: grain)"), std::string::npos)
      << missing_log;
  auto [bad_code, bad_log] = generate({"--lora", "grain:x"}, "bad.png");
  EXPECT_NE(bad_code, 0);
  EXPECT_NE(bad_log.find("--lora takes NAME or NAME:SCALE"), std::string::npos) << bad_log;
}

// Largest |a - b| over two float32 dumps of the same shape (infinity when sizes differ).
double MaxAbsDifference(const std::string& ours, const std::string& theirs) {
  const std::string a = ReadFile(ours), b = ReadFile(theirs);
  if (a.size() != b.size() || a.empty()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i + 4 <= a.size(); i += 4) {
    float x, y;
    std::memcpy(&x, a.data() + i, 4);
    std::memcpy(&y, b.data() + i, 4);
    worst = std::max(worst, std::abs(static_cast<double>(x) - y));
  }
  return worst;
}

// ../shared/golden/tiny-flux-quant: each quantized file, in place of its component, must give
// what diffusers gives on its exact dequantized weights (README there: tokens exact, prompt
// embeddings within 1e-4, final latents within 1e-3). The unquantized golden is 2.7e-2 or
// more away in final_latents (5.7e-2 in prompt_embeds for T5), so these limits tell the
// quantized weights from the float ones.
TEST(CliTest, QuantizedCheckpointsMatchTheirDequantizedReferences) {
  if (!fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so")) {
    GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch)";
  }
  std::string golden = GoldenDir();
  const std::string quant = golden + "/tiny-flux-quant";
  if (!fs::exists(quant + "/quant_cases.json")) {
    GTEST_SKIP() << "quantized golden cases not found at " << quant;
  }
  struct Case {
    const char* name;
    const char* file;
    bool t5;
  };
  const Case cases[] = {
      {"flux-Q8_0", "flux1-small-schnell-Q8_0.gguf", false},
      {"flux-Q4_K", "flux1-small-schnell-Q4_K.gguf", false},
      {"flux-Q5_1", "flux1-small-schnell-Q5_1.gguf", false},
      {"flux-fp8-scaled", "flux1-small-schnell-fp8-e4m3fn-scaled.safetensors", false},
      {"t5-Q8_0", "t5-encoder-small-schnell-Q8_0.gguf", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string file = quant + "/files/" + c.file;
    std::vector<std::string> args = {Binary(), "generate", "--prompt",
                                     "a photo of a cat holding a sign that says hello world",
                                     "--width", "64", "--height", "64", "--steps", "4", "--seed",
                                     "0", "--dtype", "float32", "--out", dir.path() + "/cat.png",
                                     "--dump", dir.path() + "/dump"};
    for (const std::string& extra :
         c.t5 ? std::vector<std::string>{"--model", golden + "/tiny-flux", "--text-encoder-2", file}
              : std::vector<std::string>{"--model", file, "--base", golden + "/tiny-flux"}) {
      args.push_back(extra);
    }
    auto [code, out] = RunToEnd(args, {"FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
    ASSERT_EQ(code, 0) << out;
    const std::string reference = quant + "/cases/cat-64x64-4steps-" + c.name + "/";
    const std::string ours = dir.path() + "/dump/";
    EXPECT_EQ(ReadFile(ours + "t5_input_ids.bin"), ReadFile(reference + "t5_input_ids.bin"));
    EXPECT_LE(MaxAbsDifference(ours + "prompt_embeds.bin", reference + "prompt_embeds.bin"), 1e-4);
    EXPECT_LE(MaxAbsDifference(ours + "pooled_prompt_embeds.bin",
                               reference + "pooled_prompt_embeds.bin"), 1e-4);
    EXPECT_LE(MaxAbsDifference(ours + "final_latents.bin", reference + "final_latents.bin"), 1e-3);
    EXPECT_LE(MaxAbsDifference(ours + "image.bin", reference + "image.bin"), 1e-2);
  }
}

// `fluxserve quantize` writes a GGUF that loads and gives the reference image of its type:
// quantizing the float golden transformer to Q4_K reproduces the published Q4_K case.
TEST(CliTest, QuantizeWritesAGgufThatGeneratesTheReferenceImage) {
  if (!fs::exists(Env("FLX_BIN_DIR") + "/fluxserve-quantize") ||
      !fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so")) {
    GTEST_SKIP() << "fluxserve-quantize / flx_pipeline_flux are not built (no libtorch)";
  }
  std::string golden = GoldenDir();
  const std::string reference = golden + "/tiny-flux-quant/cases/cat-64x64-4steps-flux-Q4_K/";
  if (!fs::exists(reference + "final_latents.bin")) {
    GTEST_SKIP() << "quantized golden cases not found at " << reference;
  }
  TempDir dir;
  const std::string gguf = dir.path() + "/flux-q4_k.gguf";
  const std::string bfl = golden + "/tiny-flux/flux1-small-schnell-bfl.safetensors";
  auto [code, out] = RunToEnd({Binary(), "quantize", bfl, gguf, "--type", "q4_k"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("FLUX transformer"), std::string::npos) << out;
  EXPECT_NE(out.find("Q4_K 4"), std::string::npos) << out;  // the 4 matrices whose rows fit
  auto [again, refused] = RunToEnd({Binary(), "quantize", bfl, gguf, "--type", "q4_k"});
  EXPECT_EQ(again, 2);
  EXPECT_NE(refused.find("exists (use --force"), std::string::npos) << refused;
  auto [bad, why] = RunToEnd({Binary(), "quantize", bfl, dir.path() + "/x.gguf", "--type", "q3_k"});
  EXPECT_EQ(bad, 2);
  EXPECT_NE(why.find("--type must be q8_0, q4_k, q5_k or q6_k"), std::string::npos) << why;

  auto [generated, log] = RunToEnd(
      {Binary(), "generate", "--model", gguf, "--base", golden + "/tiny-flux", "--prompt",
       "a photo of a cat holding a sign that says hello world", "--width", "64", "--height", "64",
       "--steps", "4", "--seed", "0", "--dtype", "float32", "--out", dir.path() + "/cat.png",
       "--dump", dir.path() + "/dump"},
      {"FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
  ASSERT_EQ(generated, 0) << log;
  EXPECT_LE(MaxAbsDifference(dir.path() + "/dump/final_latents.bin", reference + "final_latents.bin"),
            1e-3);
}

// The bfloat16 path through the CLI, whatever this CPU has: the dump holds diffusers'
// bfloat16 noise (drawn in bfloat16 from the seeded generator) bit for bit.
TEST(CliTest, GenerateInBfloat16DrawsTheBfloat16Noise) {
  if (!fs::exists(Env("FLX_PLUGIN_DIR") + "/flx_pipeline_flux.so")) {
    GTEST_SKIP() << "flx_pipeline_flux is not built (no libtorch)";
  }
  std::string golden = GoldenDir();
  const std::string reference = golden + "/tiny-flux-bf16/cat-64x64-4steps";
  if (!fs::exists(reference + "/initial_latents.bin")) {
    GTEST_SKIP() << "bfloat16 golden case not found at " << reference;
  }
  TempDir dir;
  auto [code, out] = RunToEnd(
      {Binary(), "generate", "--model", golden + "/tiny-flux", "--prompt",
       "a photo of a cat holding a sign that says hello world", "--width", "64", "--height", "64",
       "--steps", "1", "--seed", "0", "--dtype", "bfloat16", "--out", dir.path() + "/cat.png",
       "--dump", dir.path() + "/dump"},
      {"FLUX_PLUGIN_PATH=" + Env("FLX_PLUGIN_DIR")});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(ReadFile(dir.path() + "/dump/initial_latents.bin"),
            ReadFile(reference + "/initial_latents.bin"));
  EXPECT_EQ(ReadFile(dir.path() + "/dump/t5_input_ids.bin"),
            ReadFile(reference + "/t5_input_ids.bin"));
}

}  // namespace
