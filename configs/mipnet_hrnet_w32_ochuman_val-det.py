# Old name of mipnet_hrnet-w32_3xb32-110e_ochuman-256x192_val-det.py (the same config).
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_ochuman-256x192_val-det.py']
