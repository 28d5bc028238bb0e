import pandas as pd

from heavy_pandas import __version__


def summary() -> str:
    frame = pd.DataFrame(
        {"city": ["Oslo", "Lima", "Oslo", "Lima", "Pune"], "celsius": [3.5, 18.0, 6.5, 20.0, 31.0]}
    )
    means = frame.groupby("city")["celsius"].mean()
    return f"heavy-pandas {__version__}: {len(frame)} rows, warmest {means.idxmax()} {means.max():.1f} (pandas {pd.__version__})"


def main() -> None:
    print(summary())


if __name__ == "__main__":
    main()
