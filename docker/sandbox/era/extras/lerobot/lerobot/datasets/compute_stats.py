"""STUB of lerobot/datasets/compute_stats.py (lerobot 0.4.3): per-episode statistics and their aggregation, as
meta/stats.json and the episodes' stats/ columns hold them. Kept: the keys (min, max, mean, std, count and the
quantiles q01, q10, q50, q90, q99), numeric features reduced over frames, images per channel scaled to [0, 1] with
shape (3, 1, 1), strings skipped; aggregate_feature_stats verbatim. Replaced: images are the frames held in
memory (lerobot samples them back from the PNGs its image writer wrote) and the quantiles are numpy's exact ones
(lerobot estimates them from histograms)."""
import numpy as np

DEFAULT_QUANTILES = [0.01, 0.10, 0.50, 0.90, 0.99]


def get_feature_stats(array: np.ndarray, axis, keepdims: bool) -> dict[str, np.ndarray]:
    array = np.asarray(array, dtype=np.float64)
    stats = {"min": np.min(array, axis=axis, keepdims=keepdims), "max": np.max(array, axis=axis, keepdims=keepdims),
             "mean": np.mean(array, axis=axis, keepdims=keepdims), "std": np.std(array, axis=axis, keepdims=keepdims),
             "count": np.array([len(array)])}
    for q in DEFAULT_QUANTILES:
        stats[f"q{int(q * 100):02d}"] = np.quantile(array, q, axis=axis, keepdims=keepdims)
    return stats


def compute_episode_stats(episode_data: dict, features: dict) -> dict:
    ep_stats = {}
    for key, data in episode_data.items():
        if features[key]["dtype"] == "string":
            continue
        if features[key]["dtype"] in ["image", "video"]:
            frames = np.stack(data)  # (frames, h, w, c) as the encoders give them, channels first for the stats
            frames = frames if frames.shape[1] == 3 else np.moveaxis(frames, -1, 1)
            stats = get_feature_stats(frames, axis=(0, 2, 3), keepdims=True)
            ep_stats[key] = {k: v if k == "count" else np.squeeze(v / 255.0, axis=0) for k, v in stats.items()}
        else:
            data = np.asarray(data)
            ep_stats[key] = get_feature_stats(data, axis=0, keepdims=data.ndim == 1)
    return ep_stats


def aggregate_feature_stats(stats_ft_list: list[dict[str, dict]]) -> dict[str, dict[str, np.ndarray]]:
    """Aggregates stats for a single feature."""
    means = np.stack([s["mean"] for s in stats_ft_list])
    variances = np.stack([s["std"] ** 2 for s in stats_ft_list])
    counts = np.stack([s["count"] for s in stats_ft_list])
    total_count = counts.sum(axis=0)

    # Prepare weighted mean by matching number of dimensions
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, axis=-1)

    # Compute the weighted mean
    weighted_means = means * counts
    total_mean = weighted_means.sum(axis=0) / total_count

    # Compute the variance using the parallel algorithm
    delta_means = means - total_mean
    weighted_variances = (variances + delta_means**2) * counts
    total_variance = weighted_variances.sum(axis=0) / total_count

    aggregated = {
        "min": np.min(np.stack([s["min"] for s in stats_ft_list]), axis=0),
        "max": np.max(np.stack([s["max"] for s in stats_ft_list]), axis=0),
        "mean": total_mean,
        "std": np.sqrt(total_variance),
        "count": total_count,
    }

    if stats_ft_list:
        quantile_keys = [k for k in stats_ft_list[0] if k.startswith("q") and k[1:].isdigit()]

        for q_key in quantile_keys:
            if all(q_key in s for s in stats_ft_list):
                quantile_values = np.stack([s[q_key] for s in stats_ft_list])
                weighted_quantiles = quantile_values * counts
                aggregated[q_key] = weighted_quantiles.sum(axis=0) / total_count

    return aggregated


def aggregate_stats(stats_list: list[dict[str, dict]]) -> dict[str, dict[str, np.ndarray]]:
    data_keys = {key for stats in stats_list for key in stats}
    return {key: aggregate_feature_stats([s[key] for s in stats_list if key in s]) for key in data_keys}
