from .defocus_aggregation import DefocusAggregation

__all__ = ['DefocusAggregation']
