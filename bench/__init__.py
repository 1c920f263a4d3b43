"""clive's benchmarks: `make bench` (python -m bench). Figures beside their references."""
