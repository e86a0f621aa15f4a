"""Phase 2 criticality: spikes, rate matching, branching ratios, g*."""
