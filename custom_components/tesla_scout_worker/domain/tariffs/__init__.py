"""Electricity tariffs as piecewise-constant prices over time (HA-free, pure).

A tariff answers one question: what does a kWh cost at each moment of a period?
By kind:

* ``fixed`` — :class:`FixedWindowTariff`: a peak and an off-peak price with
  off-peak windows as local wall-clock times (the Polish G11, G12 and G12w
  tariffs through :func:`preset_tariff`, or any custom windows);
* ``holidays`` — :func:`polish_public_holidays`: the statutory days free from
  work that G12w prices off-peak all day, Easter-based ones computed;
* ``forecast`` — :class:`PriceForecastTariff`: a day-ahead price forecast;
* ``adapters`` — :func:`tariff_from_price_attributes` and
  :func:`tariff_from_nordpool_action`: other integrations' prices (Nord Pool
  sensors and the core Nord Pool action, ENTSO-e) read into a forecast.
"""

from .adapters import (
    FORECAST_ATTRIBUTES,
    MWH_PER_KWH,
    tariff_from_nordpool_action,
    tariff_from_price_attributes,
)
from .base import (
    ForecastHorizon,
    PriceSlot,
    Tariff,
    TariffError,
    TariffUnavailableError,
    require_aware,
    require_finite,
)
from .fixed import (
    DEFAULT_PRICES,
    PRESET_NAMES,
    FixedWindowTariff,
    OffPeakWindow,
    parse_windows,
    preset_tariff,
)
from .forecast import PriceForecastTariff
from .holidays import (
    easter_sunday,
    is_polish_public_holiday,
    polish_public_holiday_name,
    polish_public_holidays,
)

__all__ = [
    "DEFAULT_PRICES",
    "FORECAST_ATTRIBUTES",
    "MWH_PER_KWH",
    "PRESET_NAMES",
    "FixedWindowTariff",
    "ForecastHorizon",
    "OffPeakWindow",
    "PriceForecastTariff",
    "PriceSlot",
    "Tariff",
    "TariffError",
    "TariffUnavailableError",
    "easter_sunday",
    "is_polish_public_holiday",
    "parse_windows",
    "polish_public_holiday_name",
    "polish_public_holidays",
    "preset_tariff",
    "require_aware",
    "require_finite",
    "tariff_from_nordpool_action",
    "tariff_from_price_attributes",
]
