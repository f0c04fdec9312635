"""Data adapters: arrays, structures, PyDataset, generators; shuffling, weights, steps."""
import numpy as np
import pytest

import graphkit as gk
from graphkit.trainers import data


def epochs(iterator, n):
    return [[batch for _, batch in iterator.enumerate_epoch()] for _ in range(n)]


def test_arrays_are_batched_in_order_with_a_partial_last_batch():
    x = np.arange(10, dtype="float64").reshape(10, 1)
    y = np.arange(10)
    it = data.EpochIterator(x, y, batch_size=4)
    assert it.num_batches == 3
    (batches,) = epochs(it, 1)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == np.float32  # floats become floatx
    assert batches[0][1].dtype == y.dtype      # integer labels are kept
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert batches[0][2] is None


def test_shuffle_is_a_fresh_permutation_each_epoch_and_seeded():
    x = np.arange(20).reshape(20, 1).astype("float32")
    gk.utils.set_random_seed(3)
    e1, e2 = epochs(data.EpochIterator(x, x[:, 0], batch_size=5, shuffle=True), 2)
    order1 = np.concatenate([b[0][:, 0] for b in e1])
    order2 = np.concatenate([b[0][:, 0] for b in e2])
    assert sorted(order1) == list(range(20)) and not np.array_equal(order1, order2)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in e1]), order1)  # x, y aligned
    gk.utils.set_random_seed(3)
    (again,) = epochs(data.EpochIterator(x, x[:, 0], batch_size=5, shuffle=True), 1)
    np.testing.assert_array_equal(np.concatenate([b[0][:, 0] for b in again]), order1)


def test_batch_shuffle_keeps_batch_membership():
    x = np.arange(12).reshape(12, 1).astype("float32")
    gk.utils.set_random_seed(0)
    (batches,) = epochs(data.EpochIterator(x, batch_size=4, shuffle="batch"), 1)
    groups = sorted(tuple(sorted(b[0][:, 0].astype(int))) for b in batches)
    assert groups == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)]


def test_dict_and_list_structures_keep_their_shape():
    x = {"a": np.zeros((6, 2)), "b": np.ones((6, 3))}
    y = [np.zeros(6), np.ones((6, 1))]
    (batches,) = epochs(data.EpochIterator(x, y, batch_size=4), 1)
    bx, by, _ = batches[1]
    assert set(bx) == {"a", "b"} and bx["b"].shape == (2, 3)
    assert isinstance(by, list) and by[1].shape == (2, 1)


def test_mismatched_lengths_name_the_arrays():
    with pytest.raises(ValueError, match=r"x\['a'\]: 5.*y: 4|y: 4.*x\['a'\]: 5"):
        data.EpochIterator({"a": np.zeros((5, 2))}, np.zeros(4))


def test_class_weight_becomes_sample_weight():
    y = np.array([0, 1, 1, 2])
    it = data.EpochIterator(np.zeros((4, 1)), y, batch_size=4,
                            class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    (batches,) = epochs(it, 1)
    np.testing.assert_allclose(batches[0][2], [1.0, 2.0, 2.0, 0.5])
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(
        data.class_weight_to_sample_weight(onehot, {0: 1.0, 1: 2.0, 2: 0.5}),
        [1.0, 2.0, 2.0, 0.5])
    with pytest.raises(ValueError, match="at the same time"):
        data.EpochIterator(np.zeros((4, 1)), y, sample_weight=np.ones(4),
                           class_weight={0: 1.0, 1: 1.0, 2: 1.0})


def test_class_weight_leaves_classes_it_does_not_list_at_weight_one():
    # As in Keras 3 (`class_weight.get(label, 1.0)`): {1: 10.0} up-weights class 1 only.
    y = np.array([0, 1, 1, 2])
    np.testing.assert_allclose(data.class_weight_to_sample_weight(y, {0: 0.5, 2: 3.0}),
                               [0.5, 1.0, 1.0, 3.0])
    it = data.EpochIterator(np.zeros((4, 1)), y, batch_size=4, class_weight={1: 10.0})
    (batches,) = epochs(it, 1)
    np.testing.assert_allclose(batches[0][2], [1.0, 10.0, 10.0, 1.0])
    with pytest.raises(ValueError, match="`class_weight` must be a dict.*received list"):
        data.class_weight_to_sample_weight(y, [1.0, 2.0, 3.0])


def test_steps_without_batch_size_cover_the_arrays_once():
    # Keras: batch_size = ceil(num_samples / steps) when only the steps are given.
    x = np.arange(10, dtype="float32").reshape(10, 1)
    it = data.EpochIterator(x, x[:, 0], steps_per_epoch=3)
    (batches,) = epochs(it, 1)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), x[:, 0])
    it = data.EpochIterator(x, batch_size=5, steps_per_epoch=3)  # a batch size wins
    assert [len(b[0]) for b in epochs(it, 1)[0]] == [5, 5, 5]


def test_validation_split_takes_the_tail_before_shuffling():
    x, y = np.arange(10).reshape(10, 1), np.arange(10)
    (tx, ty, tsw), (vx, vy, vsw) = data.train_validation_split((x, y, None), 0.2)
    np.testing.assert_array_equal(ty, np.arange(8))
    np.testing.assert_array_equal(vy, [8, 9])
    assert tsw is None and vsw is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.train_validation_split((x, y, None), 1.5)
    with pytest.raises(ValueError, match="only supported for arrays"):
        data.train_validation_split((iter([]), None, None), 0.2)


class Squares(gk.utils.PyDataset):
    def __init__(self, n_batches=3, **kwargs):
        super().__init__(**kwargs)
        self.n_batches = n_batches
        self.epochs_ended = 0

    def __len__(self):
        return self.n_batches

    def __getitem__(self, i):
        x = np.full((2, 1), float(i))
        return x, x ** 2

    def on_epoch_end(self):
        self.epochs_ended += 1


@pytest.mark.parametrize("workers", [1, 3])
def test_py_dataset_batches_and_epoch_hooks(workers):
    ds = Squares(n_batches=5, workers=workers, max_queue_size=2)
    it = data.EpochIterator(ds)
    assert it.num_batches == 5
    e1, e2 = epochs(it, 2)
    assert [b[0][0, 0] for b in e1] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len(e2) == 5 and ds.epochs_ended == 2
    np.testing.assert_allclose(e1[3][1], np.full((2, 1), 9.0))


def test_py_dataset_rejects_separate_targets():
    with pytest.raises(ValueError, match="`y` must not be passed"):
        data.EpochIterator(Squares(), y=np.zeros(3))


def test_generator_runs_out_after_one_epoch_with_a_warning():
    def gen():
        for i in range(3):
            yield np.full((2, 1), float(i)), np.zeros(2), np.ones(2)
    it = data.EpochIterator(gen())
    assert it.num_batches is None
    (first,) = epochs(it, 1)
    assert len(first) == 3 and first[0][2] is not None
    with pytest.warns(UserWarning, match="ran out of data"):
        (second,) = epochs(it, 1)
    assert second == [] and it.ran_out_of_data


def test_steps_per_epoch_continues_a_generator_across_epochs():
    def gen():
        for i in range(7):
            yield (np.full((1, 1), float(i)),)
    it = data.EpochIterator(gen(), steps_per_epoch=3)
    e1, e2 = epochs(it, 2)
    assert [b[0][0, 0] for b in e1] == [0, 1, 2]
    assert [b[0][0, 0] for b in e2] == [3, 4, 5]
    with pytest.warns(UserWarning, match="ran out of data"):
        (e3,) = epochs(it, 1)
    assert [b[0][0, 0] for b in e3] == [6]


def test_steps_per_epoch_cycles_through_arrays():
    x = np.arange(5).reshape(5, 1).astype("float32")
    it = data.EpochIterator(x, batch_size=2, steps_per_epoch=4)
    (batches,) = epochs(it, 1)
    assert [list(b[0][:, 0]) for b in batches] == [[0, 1], [2, 3], [4], [0, 1]]


def test_a_reiterable_iterable_is_read_again_each_epoch():
    batches = [(np.ones((2, 1)), np.zeros(2)), (np.ones((2, 1)), np.zeros(2))]

    class Reader:
        def __iter__(self):
            return iter(batches)
    it = data.EpochIterator(Reader())
    e1, e2 = epochs(it, 2)
    assert len(e1) == len(e2) == 2


def test_unpack():
    assert data.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert data.unpack_x_y_sample_weight(5) == (5, None, None)
    with pytest.raises(ValueError, match="4 items"):
        data.unpack_x_y_sample_weight((1, 2, 3, 4))
