"""Celery tasks of the heatmaps: the incremental roll-up refresh (on the beat, every
HEATMAP_REFRESH_SECONDS, and after bulk imports), then the busiest tiles rendered ahead
for the new data version.

The warm-up follows a refresh that changed something, and also one that changed nothing
while stored tiles of all time are still due: a warm-up renders them for at most
HEATMAP_TILE_WARM_SECONDS, and a bulk import or migration 0014 can leave tens of
thousands (80,226 at 1 M reports). Before, on a database that then stood still, the
rest stayed due and every one of them was rendered whenever it was asked for."""

from celery import shared_task


@shared_task(name="heatmaps.refresh_incremental", ignore_result=True)
def refresh_incremental():
    """Months touched by reports changed since the watermark, and by deadlines passed."""
    from heatmaps.aggregates import refresh_incremental as run

    changed = run()
    _warm_after(changed)
    return changed


@shared_task(name="heatmaps.refresh_for_reports", ignore_result=True)
def refresh_for_reports(ids):
    from heatmaps.aggregates import refresh_for_reports as run

    changed = run(ids)
    _warm_after(changed)
    return changed


def _warm_after(changed):
    from heatmaps.tiles import any_all_time_tile_due

    if changed or any_all_time_tile_due():
        warm_tiles.delay()


@shared_task(name="heatmaps.warm_tiles", ignore_result=True)
def warm_tiles():
    """The busiest point tiles of the busy zooms, rendered into the tile cache
    (bounded: HEATMAP_TILE_WARM_MAX tiles, HEATMAP_TILE_WARM_SECONDS)."""
    from heatmaps.tile_cache import warm

    return warm()
