import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { MetricsService } from './metrics.service';

/** `GET /metrics` in Prometheus text format; no API key, like every scrape target. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Public()
  @Header('Cache-Control', 'no-store')
  async scrape(
    @Res({ passthrough: true }) response: { header: (name: string, value: string) => unknown },
  ): Promise<string> {
    const { contentType, body } = await this.metrics.scrape();
    response.header('Content-Type', contentType);
    return body;
  }
}
