"""minrnn: minGRU and minLSTM from "Were RNNs All We Needed?" (Feng et al., 2024)."""
