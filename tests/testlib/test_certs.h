// Certificates for TLS tests, made with Debian's openssl: P-256 keys valid for two days, kept in
// one folder as NAME.pem and NAME.key.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/testlib/process.h"

namespace gatewatch::testing {

class TestCertificates {
 public:
  explicit TestCertificates(std::string dir) : dir_(std::move(dir)) {}

  // Self-signed when `ca` is empty, else signed by the certificate made earlier as `ca`; `san` is
  // an -addext value such as "subjectAltName=DNS:localhost". Fails the calling test on error.
  void Make(const std::string& name, const std::string& subject, const std::string& ca = "",
            const std::string& san = "") const {
    std::vector<std::string> args = {"/usr/bin/openssl",
                                     "req",
                                     "-x509",
                                     "-newkey",
                                     "ec",
                                     "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1",
                                     "-nodes",
                                     "-days",
                                     "2",
                                     "-subj",
                                     subject,
                                     "-keyout",
                                     Key(name),
                                     "-out",
                                     Pem(name)};
    if (!ca.empty()) {
      args.insert(args.end(),
                  {"-CA", Pem(ca), "-CAkey", Key(ca), "-addext", "basicConstraints=CA:FALSE"});
    }
    if (!san.empty()) args.insert(args.end(), {"-addext", san});
    Process openssl(args);
    int status = -1;
    ASSERT_TRUE(openssl.WaitExit(std::chrono::seconds(30), &status));
    ASSERT_EQ(status, 0) << openssl.Stderr();
  }
  std::string Pem(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

 private:
  std::string dir_;
};

}  // namespace gatewatch::testing
