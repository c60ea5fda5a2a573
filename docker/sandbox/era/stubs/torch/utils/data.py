"""torch.utils.data as positronic's converters use it: map-style datasets batched by a collate_fn."""


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, idx):
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


class DataLoader:
    """Loads in this process (num_workers is accepted and ignored), in order, batch_size items a batch."""

    def __init__(self, dataset, batch_size=1, shuffle=False, num_workers=0, collate_fn=None, **_):
        if shuffle:
            raise NotImplementedError("the sandbox's torch stub loads in order only")
        self.dataset, self.batch_size, self.collate_fn = dataset, batch_size, collate_fn or (lambda batch: batch)

    def __len__(self):
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            yield self.collate_fn([self.dataset[i] for i in range(start, min(start + self.batch_size, len(self.dataset)))])
