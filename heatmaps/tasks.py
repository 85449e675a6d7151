"""Celery tasks of the heatmaps: the incremental roll-up refresh (on the beat, every
HEATMAP_REFRESH_SECONDS, and after bulk imports)."""

from celery import shared_task


@shared_task(name="heatmaps.refresh_incremental", ignore_result=True)
def refresh_incremental():
    """Months touched by reports changed since the watermark, and by deadlines passed."""
    from heatmaps.aggregates import refresh_incremental as run

    return run()


@shared_task(name="heatmaps.refresh_for_reports", ignore_result=True)
def refresh_for_reports(ids):
    from heatmaps.aggregates import refresh_for_reports as run

    return run(ids)
