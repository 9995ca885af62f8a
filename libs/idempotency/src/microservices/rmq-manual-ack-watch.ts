import { RmqContext } from '@nestjs/microservices';
import { swapHandlerChannel } from './rmq-handler-channel';

/**
 * Under `noAck: true` the library never settles a message. A handler that acknowledges its own message shows
 * that its consumer uses manual acknowledgement after all, where every duplicate the library answers without
 * running the handler would stay unacknowledged: `onManualAck` is told, so the misconfiguration is named. The
 * handler's settlement itself goes on to the broker unchanged.
 */
export function watchForManualAck(context: RmqContext, onManualAck: () => void): void {
  swapHandlerChannel(context, () => {
    onManualAck();
    return 'send';
  });
}
