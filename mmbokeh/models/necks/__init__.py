from .defocus_aggregation import DefocusAggregation
from .view_max_pool import ViewMaxPoolFusion

__all__ = ['ViewMaxPoolFusion', 'DefocusAggregation']
