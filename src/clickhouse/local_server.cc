#include "clickhouse/local_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clickhouse/client.h"

extern char** environ;

namespace ariadne::clickhouse {

namespace fs = std::filesystem;

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string LocalClickHouse::FindBinary() {
  for (const char* p : {"/usr/bin/clickhouse", "/usr/local/bin/clickhouse",
                        "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

std::string LocalClickHouse::url() const {
  return absl::StrCat("http://127.0.0.1:", http_port_);
}

absl::Status LocalClickHouse::Start(const std::string& binary, const std::string& dir,
                                    LocalServerOptions options) {
  Stop();
  binary_ = binary;
  dir_ = dir;
  options_ = std::move(options);
  std::error_code ec;
  for (const char* sub : {"data", "tmp", "user_files", "format_schemas"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, "/", sub, ": ", ec.message()));
  }
  http_port_ = FreeLoopbackPort();
  tcp_port_ = FreeLoopbackPort();
  if (http_port_ == 0 || tcp_port_ == 0 || tcp_port_ == http_port_) {
    return absl::InternalError("no free loopback port for clickhouse-server");
  }
  {
    std::ofstream c(dir + "/config.xml");
    c << "<?xml version=\"1.0\"?>\n<yandex>\n"
      << "  <logger><level>" << options_.log_level << "</level><log>" << dir
      << "/server.log</log><errorlog>" << dir
      << "/server.err.log</errorlog><console>0</console></logger>\n"
      << "  <listen_host>127.0.0.1</listen_host>\n"
      << "  <http_port>" << http_port_ << "</http_port>\n"
      << "  <tcp_port>" << tcp_port_ << "</tcp_port>\n"
      << "  <path>" << dir << "/data/</path>\n"
      << "  <tmp_path>" << dir << "/tmp/</tmp_path>\n"
      << "  <user_files_path>" << dir << "/user_files/</user_files_path>\n"
      << "  <format_schema_path>" << dir << "/format_schemas/</format_schema_path>\n"
      << "  <keep_alive_timeout>600</keep_alive_timeout>\n"
      << "  <max_concurrent_queries>16</max_concurrent_queries>\n"
      << "  <mark_cache_size>268435456</mark_cache_size>\n"
      << "  <uncompressed_cache_size>0</uncompressed_cache_size>\n"
      << "  <timezone>UTC</timezone>\n"
      << "  <users_config>" << dir << "/users.xml</users_config>\n"
      << "  <default_profile>default</default_profile>\n"
      << "  <default_database>default</default_database>\n";
    if (options_.zstd) {
      // Servers without column codecs compress every part alike; zstd is
      // what a column CODEC(ZSTD) would ask.
      c << "  <compression><case><method>zstd</method></case></compression>\n";
    }
    c << "</yandex>\n";
    std::ofstream u(dir + "/users.xml");
    u << "<?xml version=\"1.0\"?>\n<yandex>\n"
      << "  <profiles><default>\n"
      << "    <max_memory_usage>4000000000</max_memory_usage>\n"
      << "    <max_threads>" << options_.max_threads << "</max_threads>\n"
      << "    " << options_.profile_settings << "\n"
      << "    <log_queries>0</log_queries>\n"
      << "  </default></profiles>\n"
      << "  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>"
      << "<profile>default</profile><quota>default</quota></default></users>\n"
      << "  <quotas><default></default></quotas>\n</yandex>\n";
    if (!c || !u) return absl::InternalError(absl::StrCat("cannot write the config in ", dir));
  }
  return Spawn();
}

absl::Status LocalClickHouse::Restart() {
  if (binary_.empty()) return absl::FailedPreconditionError("clickhouse-server never started");
  Stop();
  return Spawn();
}

absl::Status LocalClickHouse::Spawn() {
  std::vector<std::string> args{binary_};
  if (fs::path(binary_).filename() == "clickhouse") args.push_back("server");
  args.push_back("--config-file=" + dir_ + "/config.xml");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = dir_ + "/stdout.log";
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const int rc = posix_spawn(&pid_, binary_.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return absl::InternalError(absl::StrCat("cannot start ", binary_, ": ", std::strerror(rc)));
  }
  ClickHouseOptions o;
  o.url = url();
  o.timeout = std::chrono::milliseconds(2000);
  auto client = ClickHouseClient::Create(o);
  if (!client.ok()) return client.status();
  // Up to ~60 s (300 tries) for the server to load its tables and listen.
  for (int attempt = 0; attempt < 300; ++attempt) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("clickhouse-server exited at start; see ", out,
                                              " and ", dir_, "/server.err.log"));
    }
    if (client->Query("SELECT 1").ok()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  Stop();
  return absl::DeadlineExceededError(
      absl::StrCat("clickhouse-server did not answer within 60 s; see ", dir_, "/server.err.log"));
}

void LocalClickHouse::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void LocalClickHouse::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 300; ++i) {  // ~30 s
    if (waitpid(pid_, &status, WNOHANG) != 0) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Kill();
}

}  // namespace ariadne::clickhouse
