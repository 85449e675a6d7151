"""Celery tasks of the heatmaps: the incremental roll-up refresh (on the beat, every
HEATMAP_REFRESH_SECONDS, and after bulk imports), then the busiest tiles rendered ahead
for the new data version."""

from celery import shared_task


@shared_task(name="heatmaps.refresh_incremental", ignore_result=True)
def refresh_incremental():
    """Months touched by reports changed since the watermark, and by deadlines passed."""
    from heatmaps.aggregates import refresh_incremental as run

    changed = run()
    if changed:
        warm_tiles.delay()
    return changed


@shared_task(name="heatmaps.refresh_for_reports", ignore_result=True)
def refresh_for_reports(ids):
    from heatmaps.aggregates import refresh_for_reports as run

    changed = run(ids)
    if changed:
        warm_tiles.delay()
    return changed


@shared_task(name="heatmaps.warm_tiles", ignore_result=True)
def warm_tiles():
    """The busiest point tiles of the busy zooms, rendered into the tile cache
    (bounded: HEATMAP_TILE_WARM_MAX tiles, HEATMAP_TILE_WARM_SECONDS)."""
    from heatmaps.tile_cache import warm

    return warm()
