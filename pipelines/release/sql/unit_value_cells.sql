-- The published cells a unit-value index divides: final use by modality (and _T), every region and sector, with
-- the flag of their last protection, for every month up to $period. The index's unit value of a month is the
-- cell's price per million tokens over the first month's: it is published only beside a free cell.
-- Grain: one row per month × modality.
select reference_period as month, modality, conf_status as cell_status
from mart.cells
where use_type = 'final' and region_code = '_T' and compute_region_code = '_T' and sector_code = '_T'
    and reference_period <= $period
