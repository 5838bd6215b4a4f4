-- Record disclosure flags (relation `flags`) on the month's cells. Grain: one row per cell.
update mart.cells as c
set conf_status = f.conf_status
from flags as f
where c.reference_period = $period
  and c.use_type = f.use_type
  and c.region_code = f.region_code
  and c.compute_region_code = f.compute_region_code
  and c.modality = f.modality
  and c.sector_code = f.sector_code
