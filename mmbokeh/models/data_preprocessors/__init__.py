from .depth_data_preprocessor import DepthDataPreprocessor

__all__ = ['DepthDataPreprocessor']
