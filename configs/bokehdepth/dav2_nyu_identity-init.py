# Variant: identity-initialised neck: at step 0 the model equals the pretrained Depth Anything V2 exactly.
_base_ = ['./dav2_nyu.py']
model = dict(neck=dict(init='identity'))
