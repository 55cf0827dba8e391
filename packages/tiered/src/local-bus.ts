// The in-process bus lives in core (its contract's reference implementation); tiered users import it from here.
export {
  LocalBus,
  LocalBusChannel,
  type LocalBusChannelOptions,
  type LocalBusDisconnectOptions,
  type LocalBusOptions,
} from '@strata-cache/core';
