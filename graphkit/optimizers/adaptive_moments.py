"""`AdaptiveMomentsOptimizer`: the arguments Keras's Adam family shares (`beta_1` and
`beta_2`, the decay rates of the first and second moment estimates, and `epsilon`; Kingma &
Ba 2015, Algorithm 1), for Adam, Adamax, Nadam and Lamb."""
from graphkit.optimizers.optimizer import Optimizer


class AdaptiveMomentsOptimizer(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config

    def _add_moments(self, var_list):
        """The first and second moment slots, interleaved per variable as Keras makes them."""
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
