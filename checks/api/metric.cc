#include "checks/api/metric.h"

#include <algorithm>

namespace gatewatch {

void AddToBuckets(const MetricDesc& desc, double value, std::vector<double>* bucket_counts) {
  bucket_counts->resize(desc.buckets.size() + 1);
  auto at = std::lower_bound(desc.buckets.begin(), desc.buckets.end(), value);
  (*bucket_counts)[static_cast<size_t>(at - desc.buckets.begin())] += 1;
}

}  // namespace gatewatch
