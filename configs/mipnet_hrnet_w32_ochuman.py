# The documented name of mipnet_hrnet-w32_3xb32-110e_ochuman-256x192.py, the same
# config under MMPose's naming (GPUs x boxes, epochs, data set, input size).
# Trained under this name, mim writes to work_dirs/mipnet_hrnet_w32_ochuman/.
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_ochuman-256x192.py']
