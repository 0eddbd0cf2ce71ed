#include "checks/api/metric.h"

#include <algorithm>
#include <cmath>

namespace gatewatch {

size_t BucketIndex(std::span<const double> bounds, double value) {
  if (std::isnan(value)) return bounds.size();  // lower_bound would put it in the first bucket
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                             bounds.begin());
}

void AddToBuckets(const MetricDesc& desc, double value, std::vector<double>* bucket_counts) {
  bucket_counts->resize(desc.buckets.size() + 1);
  (*bucket_counts)[BucketIndex(desc.buckets, value)] += 1;
}

}  // namespace gatewatch
