"""Phase 2 criticality: spikes, rate matching, branching ratios, g*."""

# The synthetic generator's version (gatehouse.criticality.synthetic): part of a synthetic run's config, so
# a generator that gives other events for the same seed gives other run ids. Here, so the CLI need not
# import the generator to know it.
SYNTHETIC_GENERATOR = "gaussian-field-v1"
