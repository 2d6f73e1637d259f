"""AMI head-end (主站) adapters: remote disconnect / restore of smart meters."""
