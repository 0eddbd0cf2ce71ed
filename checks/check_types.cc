// The one place that lists the built-in check types. A new type adds its line here.
#include "checks/check_types.h"

#include "checks/api/check_type.h"

namespace gatewatch {

CheckType HttpCheckType();
CheckType HostCheckType();
CheckType CdnOriginCheckType();
CheckType ProxyLogCheckType();
CheckType DnsCheckType();
CheckType TcpCheckType();
CheckType FastcgiCheckType();
CheckType GrpcCheckType();
CheckType NginxCheckType();

void RegisterBuiltinCheckTypes() {
  static const bool registered = [] {
    auto& registry = CheckRegistry::Instance();
    registry.Register(HttpCheckType());
    registry.Register(HostCheckType());
    registry.Register(CdnOriginCheckType());
    registry.Register(ProxyLogCheckType());
    registry.Register(DnsCheckType());
    registry.Register(TcpCheckType());
    registry.Register(FastcgiCheckType());
    registry.Register(GrpcCheckType());
    registry.Register(NginxCheckType());
    return true;
  }();
  (void)registered;
}

}  // namespace gatewatch
