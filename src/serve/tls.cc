#include "serve/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>

#include "absl/strings/str_cat.h"

namespace ariadne::serve {

namespace ssl = boost::asio::ssl;

namespace {

absl::Status FileError(const char* key, const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(key, " \"", path, "\": ", what));
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> TlsContext::Load(const TlsFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError("tls: cert_file and key_file go together");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::single_dh_use,
                   ec);
  // TLS 1.0 and 1.1 are deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (ctx->use_certificate_chain_file(files.cert_file, ec); ec) {
    return FileError("tls.cert_file", files.cert_file, ec.message());
  }
  if (ctx->use_private_key_file(files.key_file, ssl::context::pem, ec); ec) {
    if (ec.category() == boost::asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
      return FileError("tls.key_file", files.key_file,
                       absl::StrCat("does not match the certificate in ", files.cert_file));
    }
    return FileError("tls.key_file", files.key_file, ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return FileError("tls.key_file", files.key_file,
                     absl::StrCat("does not match the certificate in ", files.cert_file));
  }
  if (!files.client_ca_file.empty()) {
    if (ctx->load_verify_file(files.client_ca_file, ec); ec) {
      return FileError("tls.client_ca_file", files.client_ca_file, ec.message());
    }
    // Tells clients which CAs are accepted, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    }
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  return ctx;
}

TlsContext::Identities TlsContext::Look(const TlsFiles& files) {
  auto look = [](const std::string& path) {
    Identity id;
    struct stat st {};
    if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
      id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
      id.size = static_cast<int64_t>(st.st_size);
      id.inode = static_cast<uint64_t>(st.st_ino);
    }
    return id;
  };
  return {look(files.cert_file), look(files.key_file), look(files.client_ca_file)};
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(TlsFiles files, Options options) {
  std::shared_ptr<TlsContext> t(new TlsContext(std::move(files), std::move(options)));
  // Looked at before loading: a change while loading is seen at the next look.
  t->seen_ = Look(t->files_);
  auto ctx = Load(t->files_);
  if (!ctx.ok()) return ctx.status();
  t->current_ = *std::move(ctx);
  t->next_look_ = std::chrono::steady_clock::now() + t->options_.reload_interval;
  return t;
}

std::shared_ptr<ssl::context> TlsContext::Current() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_look_) return current_;
  next_look_ = now + options_.reload_interval;
  const Identities ids = Look(files_);
  if (ids == seen_) return current_;
  seen_ = ids;
  auto ctx = Load(files_);
  if (!ctx.ok()) {
    if (options_.on_reload) options_.on_reload(ctx.status());
    return current_;
  }
  current_ = *std::move(ctx);
  ++reloads_;
  if (options_.on_reload) options_.on_reload(absl::OkStatus());
  return current_;
}

uint64_t TlsContext::reloads() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

}  // namespace ariadne::serve
